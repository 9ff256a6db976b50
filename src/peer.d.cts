/**
 * Loads the optional peer dependency `name` for the entry point `entry` (e.g. `syncwheel/testing`);
 * when it is not installed, throws an Error saying so and which `npm install` fixes it (its `code` is
 * `'ERR_SYNCWHEEL_MISSING_PEER'` and its `peer` the package name).
 */
export declare function requirePeer<T>(name: string, entry: string, install?: string): T;
