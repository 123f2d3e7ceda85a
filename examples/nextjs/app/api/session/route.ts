import { NextResponse } from 'next/server'
import { SESSION_COOKIE, createSession } from '../../../lib/auth'

/**
 * The demo's sign-in and sign-out (a form posts here). A real app has its own; all the stream
 * needs is that `/api/sse-token` can tell who is asking.
 */
export async function POST(request: Request): Promise<Response> {
  const form = await request.formData().catch(() => undefined)
  // 303: the browser follows with a GET to the page, not a repeated POST. A relative Location,
  // because request.url names the host Next.js was started with, not the one the browser used.
  const response = new NextResponse(null, { status: 303, headers: { Location: '/' } })
  if (form?.get('action') === 'signout') {
    response.cookies.delete(SESSION_COOKIE)
    return response
  }
  const session = await createSession('demo-user')
  response.cookies.set(session.name, session.value, {
    httpOnly: true,
    sameSite: 'lax',
    path: '/',
    maxAge: session.maxAge,
    secure: new URL(request.url).protocol === 'https:',
  })
  return response
}
