import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the shared reference server, e.g. http://127.0.0.1:41234 */
    serverUrl: string
    /** API key accepted by POST /auth/sse-token on that server. */
    apiKey: string
  }
}

// Runs once per project; the returned function is the teardown.
export default async function setup(project: TestProject) {
  const { startReferenceServer } = await import('../reference-server/server')
  const server = await startReferenceServer({ port: 0, host: '127.0.0.1', log: () => {} })
  project.provide('serverUrl', server.url)
  project.provide('apiKey', server.apiKey)
  return async () => {
    await server.close()
  }
}
