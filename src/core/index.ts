export * from './types'
export * from './errors'
export { backoffDelay, type BackoffOptions } from './backoff'
export { resolvePlatform } from './platform'
