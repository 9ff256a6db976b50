/**
 * Loads the optional peer dependency `name` for the entry point `entry` (e.g. `syncwheel/testing`);
 * when it is not installed, throws an Error saying so and which `npm install` fixes it.
 */
export declare function requirePeer<T>(name: string, entry: string, install?: string): T;
