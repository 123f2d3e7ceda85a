import { StrictMode, useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'

/** Signs in to the reference server (a demo session cookie), then shows the page. */
function Root() {
  const [ready, setReady] = useState<'pending' | 'ok' | 'error'>('pending')
  useEffect(() => {
    fetch('/auth/login', { method: 'POST', credentials: 'include' }).then(
      (res) => setReady(res.ok ? 'ok' : 'error'),
      () => setReady('error'),
    )
  }, [])
  if (ready === 'pending') return <p className="muted">Signing in to the reference server…</p>
  if (ready === 'error') return <p className="bad">Could not sign in: is the reference server running? (npm run demo starts it)</p>
  return <App />
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
)
