// An in-process `navigator.locks` for Node and jsdom, which have none: exclusive locks granted in
// request order, released when the callback's promise settles, with `signal` (leave the queue)
// and `steal` (take a held lock at once; the holder's request rejects with an AbortError), as the
// Web Locks API specifies them. Together with Node's own BroadcastChannel it lets streams of one
// process form a cross-tab group, as tabs of one browser do.

interface Request {
  callback: (lock: { name: string; mode: 'exclusive' }) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

export interface FakeLocks {
  request(name: string, options: { signal?: AbortSignal; steal?: boolean }, callback: Request['callback']): Promise<unknown>
  /** Whether someone holds `name`, and how many wait for it. */
  state(name: string): { held: boolean; waiting: number }
}

const abortError = () => Object.assign(new Error('The request was aborted'), { name: 'AbortError' })

/** `schedule`: how a granted callback is queued as a task (default `setTimeout(fn, 0)`; a virtual clock's on the virtual clock). */
export function createFakeLocks(schedule: (fn: () => void) => void = (fn) => void setTimeout(fn, 0)): FakeLocks {
  const holders = new Map<string, Request>()
  const queues = new Map<string, Request[]>()

  function grant(name: string): void {
    if (holders.has(name)) return
    const next = queues.get(name)?.shift()
    if (next) hold(name, next)
  }

  function hold(name: string, request: Request): void {
    holders.set(name, request)
    // The callback runs as a task, as in browsers.
    schedule(() => {
      let result: Promise<unknown>
      try {
        result = Promise.resolve(request.callback({ name, mode: 'exclusive' }))
      } catch (error) {
        result = Promise.reject(error)
      }
      result.then(
        (value) => release(name, request, () => request.resolve(value)),
        (error) => release(name, request, () => request.reject(error)),
      )
    })
  }

  function release(name: string, request: Request, settle: () => void): void {
    // A stolen lock was released already; its request rejected then.
    if (holders.get(name) !== request) return
    holders.delete(name)
    settle()
    grant(name)
  }

  return {
    request(name, options, callback) {
      return new Promise((resolve, reject) => {
        const request: Request = { callback, resolve, reject }
        if (options.steal) {
          const holder = holders.get(name)
          holders.delete(name)
          holder?.reject(abortError())
          return hold(name, request)
        }
        const { signal } = options
        if (signal?.aborted) return reject(abortError())
        signal?.addEventListener('abort', () => {
          const queue = queues.get(name) ?? []
          const index = queue.indexOf(request)
          if (index === -1) return
          queue.splice(index, 1)
          reject(abortError())
        })
        const queue = queues.get(name) ?? []
        queues.set(name, queue)
        queue.push(request)
        grant(name)
      })
    },
    state: (name) => ({ held: holders.has(name), waiting: queues.get(name)?.length ?? 0 }),
  }
}
