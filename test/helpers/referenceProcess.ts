// The reference server as a child process (`node --import tsx reference-server/cli.ts`), for tests
// that kill an instance with SIGKILL, as a crash or an orchestrator would, and bench rows that must
// measure a server's heap and CPU apart from its clients.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sleep } from './wait'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ReferenceProcess {
  url: string
  port: number
  pid: number
  child: ChildProcess
  /** Everything it printed (the CLI never prints a token). */
  output(): string
  /** SIGKILL: no clean end for its clients. Resolves once it exited. */
  kill(): Promise<void>
  /** SIGTERM (a clean shutdown), SIGKILL after 3 s. */
  stop(): Promise<void>
}

/**
 * Starts `reference-server/cli.ts --port 0 --quiet` plus `args`, with `env` added to this
 * process's environment (e.g. `REDIS_URL`, `REFERENCE_SERVER_SECRET`); resolves with its URL
 * once it listens.
 */
export async function startReferenceProcess(options: { args?: string[]; env?: Record<string, string> } = {}): Promise<ReferenceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'reference-server/cli.ts', '--port', '0', '--quiet', ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const gone = () => child.exitCode !== null || child.signalCode !== null
  for (let i = 0; i < 300 && !gone(); i++) {
    const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output)
    if (match) {
      const pid = child.pid!
      const kill = async () => {
        if (gone()) return
        process.kill(pid, 'SIGKILL')
        await exited
      }
      return {
        url: match[1]!,
        port: Number(match[2]),
        pid,
        child,
        output: () => output,
        kill,
        stop: async () => {
          if (gone()) return
          process.kill(pid, 'SIGTERM')
          if (!(await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]))) await kill()
        },
      }
    }
    await sleep(50)
  }
  if (!gone()) child.kill('SIGKILL')
  throw new Error(`reference server process did not start:\n${output}`)
}
