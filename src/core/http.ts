// What the token fetcher and both transports read the same way in an HTTP response.

/** 401 and 403: the server will not serve this credential, whichever server says it. */
export const isAccessDenied = (status: unknown): boolean => status === 401 || status === 403

/** Releases the connection of a response whose body will not be read (else it stays busy until GC). */
export function cancelBody(response: Response): void {
  response.body?.cancel().catch(() => {})
}
