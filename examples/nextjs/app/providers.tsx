'use client'

import type { ReactNode } from 'react'
import { TokenProvider, fetchTokenFrom } from 'use-event-stream'

// Module scope: one function for the app's life. `POST /api/sse-token` with the session cookie.
const fetchToken = fetchTokenFrom('/api/sse-token')

/** Client-side providers for the whole app; the root layout (a server component) renders it. */
export function Providers({ children }: { children: ReactNode }) {
  return <TokenProvider fetchToken={fetchToken}>{children}</TokenProvider>
}
