// Redis going away under a Redis event log: the app hears about it (`onError`, `status`), and
// readers waiting on a log that has been down longer than `maxDowntime` end with an error, so their
// clients reconnect (possibly to another instance) rather than wait on a dead stream. A real
// redis-server per test, stopped by its pid.
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { createRedisEventLog } from 'use-event-stream/server/redis'
import { startRedisServer } from '../helpers/redisServer'
import { until } from '../helpers/wait'

describe('redis event log: Redis down', () => {
  it('reports the outage through onError and status, and ends waiting readers with an error after maxDowntime', async () => {
    const redis = await startRedisServer()
    const errors: Error[] = []
    const log = createRedisEventLog({ url: redis.url, key: 'outage', maxDowntime: 500, onError: (error) => void errors.push(error) })
    try {
      expect(log.status.state).toBe('idle')
      const first = await log.append({ data: 'one' })
      let outcome: string | undefined
      const reading = (async () => {
        try {
          for await (const _ of log.read({ after: first, signal: AbortSignal.timeout(15_000) })) throw new Error('no entry can arrive')
          outcome = 'ended normally'
        } catch (error) {
          outcome = `error: ${(error as Error).message}`
        }
      })()
      await until(() => log.status.state === 'ok', 5000, 'the log to be connected')
      expect(log.status.downSince).toBeUndefined()
      await redis.stop()
      await until(() => log.status.state === 'down', 5000, 'the status to say down')
      expect(typeof log.status.downSince).toBe('number')
      await until(() => outcome !== undefined, 5000, 'the waiting reader to end')
      expect(outcome).toMatch(/^error: .*unavailable/)
      expect(errors.length).toBeGreaterThanOrEqual(1)
      expect(errors[0]).toBeInstanceOf(Error)
      await reading
      // A reader starting now ends at once, with the same error.
      const t0 = performance.now()
      await expect(
        (async () => {
          for await (const _ of log.read({ after: first, signal: AbortSignal.timeout(5000) })) break
        })(),
      ).rejects.toThrow(/unavailable/)
      expect(performance.now() - t0).toBeLessThan(1000)

      // Redis back on the same port: the status recovers and reads work again.
      const again = spawn('redis-server', ['--port', String(redis.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: 'ignore' })
      try {
        await until(() => log.status.state === 'ok', 10_000, 'the status to recover')
        const stop = new AbortController()
        const got: string[] = []
        const reading2 = (async () => {
          for await (const entry of log.read({ signal: stop.signal })) got.push(entry.data)
        })()
        await until(async () => (await log.append({ data: 'back' }), got.length > 0), 10_000, 'an entry after the recovery')
        stop.abort()
        await reading2
        expect(got[0]).toBe('back')
      } finally {
        again.kill('SIGKILL')
      }
    } finally {
      await log.close()
      await redis.stop()
    }
  })

  it('maxDowntime and onError are checked', () => {
    expect(() => createRedisEventLog({ key: 'k', maxDowntime: -1 })).toThrow(TypeError)
    expect(() => createRedisEventLog({ key: 'k', onError: 'log' as never })).toThrow(TypeError)
  })
})
