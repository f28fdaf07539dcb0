/**
 * Damage to real files. A byte flipped anywhere in a data directory either leaves a valid
 * prefix of the log (damage in the last segment's final record: a torn tail, cut and logged)
 * or makes recovery refuse with a `CorruptionError` naming the file and offset. It never
 * yields a wrong entry and never throws anything else. Then the named cases: a torn tail, a
 * valid record after damage, missing segments, a hard state beyond the log.
 */
import assert from 'node:assert/strict';
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seededRandom } from '../../src/core/index.js';
import { CorruptionError, FileStorage } from '../../src/storage/index.js';
import { entries, plain, recordingLogger } from './support.js';

const base = mkdtempSync(join(tmpdir(), 'raftkit-corruption-'));
const pristine = join(base, 'pristine');
const written = [...entries(1, 60, 1, 20), ...entries(61, 130, 2, 5)];
const hardState = { term: 2, vote: 'b', commit: 120 };
const options = { maxSegmentBytes: 2048, cacheBytes: 0 };

/** A copy of the pristine directory to damage. */
let copies = 0;
function copy(): string {
  const dir = join(base, `copy-${copies++}`);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

function segments(dir: string): string[] {
  return readdirSync(join(dir, 'log')).sort();
}

before(async () => {
  const s = await FileStorage.open(pristine, options);
  await s.save({ entries: [], hardState: { term: 2, vote: 'b', commit: 0 }, sync: true });
  for (let i = 0; i < 120; i += 10) {
    await s.save({ entries: written.slice(i, i + 10), hardState: null, sync: true });
  }
  await s.save({ entries: [], hardState, sync: true });
  // The log ends with entries (not with the commit record), several in the last segment.
  await s.save({ entries: written.slice(120), hardState: null, sync: true });
  await s.close();
});
after(() => rmSync(base, { recursive: true, force: true }));

type Outcome =
  | { kind: 'kept'; count: number; torn: boolean }
  | { kind: 'refused'; error: CorruptionError };

async function recover(dir: string): Promise<Outcome> {
  let s: FileStorage;
  try {
    s = await FileStorage.open(dir, { ...options, logger: { warn() {} } });
  } catch (err) {
    // Anything but a CorruptionError fails the test right here.
    if (!(err instanceof CorruptionError)) throw err;
    return { kind: 'refused', error: err };
  }
  try {
    const got = s.entries(1, s.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(plain(got), plain(written.slice(0, got.length)), 'a wrong entry came back');
    assert.deepEqual(s.hardState(), hardState);
    return { kind: 'kept', count: got.length, torn: s.tornTail !== null };
  } finally {
    await s.close();
  }
}

test('a flipped byte anywhere: a valid prefix (tail damage) or a clear refusal', async (t) => {
  const random = seededRandom(1234);
  const files = ['hard-state.json', ...segments(pristine).map((f) => join('log', f))];
  const sizes = files.map((f) => statSync(join(pristine, f)).size);
  const lastSegment = files.at(-1) as string;
  const counts = { refused: 0, keptWhole: 0, cutTail: 0 };
  for (let trial = 0; trial < 400; trial++) {
    const which = random.int(files.length);
    const file = files[which] as string;
    const offset = random.int(sizes[which] as number);
    const dir = copy();
    const bytes = readFileSync(join(dir, file));
    bytes[offset] = (bytes[offset] as number) ^ (1 + random.int(255));
    writeFileSync(join(dir, file), bytes);
    const outcome = await recover(dir);
    rmSync(dir, { recursive: true });
    const where = `${file} offset ${offset}`;
    if (outcome.kind === 'refused') {
      counts.refused++;
      assert.equal(outcome.error.file, file, where);
      assert.ok(outcome.error.offset <= offset + 8, `${where}: reported ${outcome.error.offset}`);
      assert.match(outcome.error.message, /^corrupt data in .+ at offset \d+: expected|bad record/);
    } else if (outcome.count === written.length) {
      counts.keptWhole++; // e.g. the hard state's final newline became another blank
    } else {
      counts.cutTail++;
      assert.equal(file, lastSegment, `${where}: only the last segment may lose a tail`);
      assert.ok(outcome.torn, where);
    }
  }
  t.diagnostic(JSON.stringify(counts));
  assert.ok(counts.refused > 300 && counts.cutTail > 0, JSON.stringify(counts));
});

describe('named damage', () => {
  test('a torn tail is cut off, logged, and gone from the file', async () => {
    const dir = copy();
    const last = join(dir, 'log', segments(dir).at(-1) as string);
    const size = statSync(last).size;
    truncateSync(last, size - 7);
    const logger = recordingLogger();
    const s = await FileStorage.open(dir, { ...options, logger });
    assert.equal(s.lastIndex(), written.length - 1);
    assert.equal(s.tornTail?.file, `log/${segments(dir).at(-1)}`);
    assert.equal(logger.lines.length, 1);
    assert.match(logger.lines[0] as string, /torn write at the end of the log cut off/);
    await s.close();
    assert.ok(statSync(last).size < size - 7, 'the torn record was cut from the file');
    const again = await FileStorage.open(dir, { ...options, logger });
    assert.equal(again.tornTail, null);
    assert.equal(logger.lines.length, 1);
    await again.close();
  });

  test('damage followed by valid records in the last segment is corruption, not a tear', async () => {
    const dir = copy();
    const last = join(dir, 'log', segments(dir).at(-1) as string);
    const bytes = readFileSync(last);
    bytes[44 + 12] = (bytes[44 + 12] as number) ^ 0xff; // inside the first record
    writeFileSync(last, bytes);
    await assert.rejects(
      FileStorage.open(dir, options),
      /at offset 44: bad record, and valid records follow it: checksum mismatch/,
    );
  });

  test('a missing segment in the middle is named', async () => {
    const dir = copy();
    const names = segments(dir);
    rmSync(join(dir, 'log', names[1] as string));
    await assert.rejects(
      FileStorage.open(dir, options),
      new RegExp(`${names[2]} at offset 0: segment 2 is missing before it`),
    );
  });

  test('a missing first segment is not mistaken for a shorter log', async () => {
    const dir = copy();
    rmSync(join(dir, 'log', segments(dir)[0] as string));
    await assert.rejects(FileStorage.open(dir, options), /expected the log to start at index 1/);
  });

  test('missing last segments leave a hard state whose commit is beyond the log', async () => {
    const dir = copy();
    for (const name of segments(dir).slice(-3)) rmSync(join(dir, 'log', name));
    await assert.rejects(
      FileStorage.open(dir, options),
      /hard-state.json at offset 0: expected a commit index within the log \(last index (\d+)\), found 120: committed entries \d+ to 120 are missing \(the log ends at index \1 in log\/\d+\.log: that segment lost its end, or the segments after it are missing\)/,
    );
  });

  test('a last segment cut short (not at a record boundary) names that segment', async () => {
    const dir = copy();
    const names = segments(dir);
    const last = join(dir, 'log', names.at(-1) as string);
    // Keep only the segment's header and first record or so: a lost end, not a torn record.
    truncateSync(last, 80);
    await assert.rejects(
      FileStorage.open(dir, { ...options, logger: { warn() {} } }),
      new RegExp(
        `committed entries \\d+ to 120 are missing \\(the log ends at index \\d+ in log/${names.at(-1)}`,
      ),
    );
  });

  test('a missing hard state file is refused, naming it, not replaced by one without the vote', async () => {
    const dir = copy();
    rmSync(join(dir, 'hard-state.json'));
    await assert.rejects(
      FileStorage.open(dir, options),
      /^CorruptionError: corrupt data in hard-state.json at offset 0: the file is missing .*could vote twice/,
    );
    // Nothing was written in its place.
    assert.ok(!readdirSync(dir).includes('hard-state.json'));
  });

  test('a damaged hard state file is refused with what was expected', async () => {
    const dir = copy();
    writeFileSync(
      join(dir, 'hard-state.json'),
      '{"format":"raftkit hard state","version":1,"term":',
    );
    await assert.rejects(
      FileStorage.open(dir, options),
      /hard-state.json at offset 0: expected a JSON document/,
    );
    const doc = JSON.parse(readFileSync(join(pristine, 'hard-state.json'), 'utf8'));
    writeFileSync(join(dir, 'hard-state.json'), JSON.stringify({ ...doc, term: 3 }));
    await assert.rejects(FileStorage.open(dir, options), /expected crc32 \d+ of its fields/);
  });

  test('read-only recovery reports a torn tail without cutting it', async () => {
    const dir = copy();
    const last = join(dir, 'log', segments(dir).at(-1) as string);
    truncateSync(last, statSync(last).size - 3);
    const size = statSync(last).size;
    const s = await FileStorage.open(dir, { ...options, readOnly: true, logger: { warn() {} } });
    assert.notEqual(s.tornTail, null);
    await s.close();
    assert.equal(statSync(last).size, size);
  });
});
