// A real redis-server (Debian's `redis-server` package, installed by scripts/ensure-system-deps.sh)
// private to one test file: started on a free 127.0.0.1 port with no persistence, stopped by its pid.
import { spawn } from 'node:child_process'
import { createConnection, createServer } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { sleep } from './wait'

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string
  port: number
  pid: number
  /** SIGTERM, then SIGKILL if it has not exited within 3 s. */
  stop(): Promise<void>
}

const BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Sends one inline command and resolves with the first reply line (`+PONG`), or rejects. */
function inline(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let text = ''
    const timer = setTimeout(() => socket.destroy(new Error('no answer')), 1000)
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('data', (chunk) => {
      text += chunk.toString()
      if (text.includes('\r\n')) {
        clearTimeout(timer)
        socket.end()
        resolve(text.slice(0, text.indexOf('\r\n')))
      }
    })
    socket.once('connect', () => socket.write(`${command}\r\n`))
  })
}

/**
 * Starts `redis-server --port <free> --bind 127.0.0.1 --save '' --appendonly no` and resolves once it
 * answers PING. Tries a few ports: another process may take the free one first.
 */
export async function startRedisServer(): Promise<RedisServer> {
  let lastError = ''
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
    const exited = () => child.exitCode !== null || child.signalCode !== null
    for (let i = 0; i < 100 && !exited(); i++) {
      const ready = await Promise.race([inline(port, 'PING').catch(() => ''), spawnError.then((e) => `spawn: ${e.message}`)])
      if (ready.startsWith('spawn:')) throw new Error(`cannot start ${BINARY} (${ready}); run scripts/ensure-system-deps.sh`)
      if (ready === '+PONG') {
        const pid = child.pid!
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          pid,
          stop: async () => {
            if (exited()) return
            const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
            process.kill(pid, 'SIGTERM')
            if ((await Promise.race([gone.then(() => true), sleep(3000).then(() => false)])) === false) {
              process.kill(pid, 'SIGKILL')
              await gone
            }
          },
        }
      }
      await sleep(50)
    }
    lastError = output.trim()
    if (!exited()) child.kill('SIGKILL')
  }
  throw new Error(`redis-server did not start: ${lastError}`)
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start a redis-server for the calling file and stop
 * it. Returns a getter, since the server exists only once `beforeAll` has run.
 */
export function useRedisServer(): () => RedisServer {
  let server: RedisServer | undefined
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    await server?.stop()
  })
  return () => {
    if (!server) throw new Error('redis-server is not started yet: use it inside tests or hooks')
    return server
  }
}
