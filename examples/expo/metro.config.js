// Metro for an app that uses the library from this repository: `use-event-stream` is installed
// as a link to the repository root (`file:../..`), whose built `dist/` Metro must see, while every
// other package, React above all, must come from this app's node_modules (the root has its own
// React for its tests; two Reacts in one bundle break hooks).
const path = require('node:path')
const { getDefaultConfig } = require('expo/metro-config')

const libraryRoot = path.resolve(__dirname, '../..')
const config = getDefaultConfig(__dirname)

config.watchFolders = [libraryRoot]
// Only the library's package.json and dist/ are needed: skip the rest of the repository (its
// node_modules above all). Directories are tested without a trailing slash, hence `(/|$)`.
const escape = (p) => p.replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&')
const skip = new RegExp(`^${escape(libraryRoot)}/(?!dist(/|$)|package\\.json$|examples(/expo(/|$)|$)).*`)
config.resolver.blockList = [].concat(config.resolver.blockList ?? [], skip)
// Bare imports from the library's files (react, use-event-stream/core) resolve from this app.
config.resolver.nodeModulesPaths = [path.join(__dirname, 'node_modules')]

module.exports = config
