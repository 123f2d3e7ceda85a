// A `fetch` shaped like `expo/fetch` on a phone: built on node:http rather than undici, its response
// is a plain object (not a `Response`) whose `body` is a `ReadableStream` of bytes read with
// `getReader()`, with `Headers`, `status`, `text()` and `json()`. What the library may rely on in
// React Native is exactly this much; a test passing it as `platform.fetch` shows the library needs
// no more (nor any global fetch).
import http from 'node:http'

export interface StreamingFetch {
  fetch: typeof fetch
  /** Requests made, oldest first: method, url, and whether the caller aborted it. */
  readonly calls: ReadonlyArray<{ method: string; url: string; aborted: boolean }>
}

export function createStreamingFetch(): StreamingFetch {
  const calls: Array<{ method: string; url: string; aborted: boolean }> = []
  const impl = (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input)
    const method = init.method ?? 'GET'
    const call = { method, url, aborted: false }
    calls.push(call)
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((value, name) => (headers[name] = value))
    return new Promise((resolve, reject) => {
      const signal = init.signal
      if (signal?.aborted) return reject(new DOMException('Aborted', 'AbortError'))
      const req = http.request(url, { method, headers })
      const onAbort = () => {
        call.aborted = true
        req.destroy(new DOMException('Aborted', 'AbortError'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      req.on('error', reject)
      req.on('response', (res) => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            res.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)))
            res.on('end', () => controller.close())
            res.on('error', (error) => controller.error(error))
            // An abort mid-body errors the reader, as a native stream's does.
            res.on('close', () => !res.complete && controller.error(new DOMException('Aborted', 'AbortError')))
          },
          cancel() {
            res.destroy()
          },
        })
        const responseHeaders = new Headers()
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value)
        const text = async () => {
          let out = ''
          const reader = body.getReader()
          const decoder = new TextDecoder()
          for (;;) {
            const { done, value } = await reader.read()
            if (done) return out + decoder.decode()
            out += decoder.decode(value, { stream: true })
          }
        }
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300,
          url,
          headers: responseHeaders,
          body,
          text,
          json: async () => JSON.parse(await text()),
        } as unknown as Response)
      })
      if (typeof init.body === 'string') req.write(init.body)
      req.end()
    })
  }
  return { fetch: impl as typeof fetch, calls }
}
