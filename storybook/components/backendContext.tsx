/**
 * Gives demo components the story's mock backend (created per story by the preview's loader) so
 * they can show what the "server" saw: tokens minted, stream requests, open connections.
 */
import { createContext, useContext, useSyncExternalStore } from 'react'
import type { BackendStats, MockBackend } from '../mocks/backend'

export const BackendContext = createContext<MockBackend | null>(null)

export function useBackend(): MockBackend {
  const backend = useContext(BackendContext)
  if (!backend) throw new Error('useBackend() needs the preview decorator that provides the mock backend')
  return backend
}

export function useBackendStats(): BackendStats {
  const backend = useBackend()
  return useSyncExternalStore(backend.subscribe, backend.getStats, backend.getStats)
}
