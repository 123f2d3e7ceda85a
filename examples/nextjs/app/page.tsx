import { getSessionUser } from '../lib/auth'
import { Dashboard } from './dashboard'

export default async function Page() {
  const user = await getSessionUser()
  return (
    <main>
      <h1>use-event-stream × Next.js</h1>
      {user ? (
        <>
          <form method="post" action="/api/session">
            Signed in as <b>{user}</b>{' '}
            <button type="submit" name="action" value="signout">
              Sign out
            </button>
          </form>
          <Dashboard />
        </>
      ) : (
        <form method="post" action="/api/session">
          <p>The stream needs a token, and the token endpoint needs a session.</p>
          <button type="submit" name="action" value="signin">
            Sign in as the demo user
          </button>
        </form>
      )}
    </main>
  )
}
