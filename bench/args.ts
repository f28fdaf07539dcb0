/** The benchmarks' command line: `--name value` pairs after `npm run bench:x --`. */
export function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
