'use strict';
// Loads an optional peer dependency, saying what to install when it is missing. Plain CommonJS on
// purpose (types in peer.d.cts): `require` resolves from the installed package in both the ESM and
// the CommonJS build, synchronously (no top-level await, so `require()` of the ESM build works too).
// The build copies this file next to the compiled modules.
function requirePeer(name, entry, install) {
  try {
    return require(name);
  } catch (error) {
    if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(`'${name}'`)) {
      const missing = new Error(`${entry} needs the optional peer dependency "${name}", which is not installed: npm install ${install || name}`, { cause: error });
      missing.code = 'ERR_SYNCWHEEL_MISSING_PEER';
      missing.peer = name;
      throw missing;
    }
    throw error;
  }
}
exports.requirePeer = requirePeer;
