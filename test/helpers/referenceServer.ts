// A reference server private to one test file, for suites that set faults, read counters or count
// open connections and must not see other files' traffic (the shared one from globalSetup would).
import { afterAll, beforeAll } from 'vitest'
import { startReferenceServer, type ReferenceServer, type ReferenceServerOptions } from '../../reference-server/server'

/**
 * Registers `beforeAll`/`afterAll` hooks in the calling file (or describe block) that start a
 * reference server on 127.0.0.1 and close it. `options` go to `startReferenceServer`, on top of
 * `port: 0` (any free port) and a silent `log`.
 *
 * Returns a getter, since the server exists only once `beforeAll` has run.
 */
export function useReferenceServer(options: ReferenceServerOptions = {}): () => ReferenceServer {
  let server: ReferenceServer | undefined
  beforeAll(async () => {
    server = await startReferenceServer({ port: 0, log: () => {}, ...options })
  })
  afterAll(async () => {
    await server?.close()
  })
  return () => {
    if (!server) throw new Error('the reference server is not started yet: use it inside tests or hooks')
    return server
  }
}
