/**
 * @module
 * What the HTTP API's server and its client share, in a module of its own so that the client
 * loads none of the server.
 */

/**
 * Sent with every answer: it tells a raftkit answer from another server's (a proxy's error
 * page, a web server at the wrong port), which the client refuses as a failed endpoint.
 */
export const API_HEADER = 'raftkit-api';
export const API_VERSION = '1';
