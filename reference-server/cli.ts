/**
 * Runs the reference server: `npm run server -- --port 8787 --ttl 30`.
 * Prints the URL (never a token); the access log redacts `?token=`.
 */
import { parseArgs } from 'node:util'
import { startReferenceServer, type ReferenceServerOptions } from './server'

const HELP = `Usage: tsx reference-server/cli.ts [options]

  --port <n>             port to listen on (default 8787; 0 = any free port)
  --host <addr>          interface to bind (default 127.0.0.1)
  --ttl <s>              token lifetime in seconds (default 30)
  --api-key <key>        x-api-key accepted by POST /auth/sse-token (default demo-api-key)
  --heartbeat <ms>       heartbeat comment after this much idle time (default 15000, 0 = off)
  --interval <ms>        ticker period (default 1000)
  --fast-interval <ms>   fast channel period (default 100)
  --ring-size <n>        events kept per channel for replay (default 1000; approximate on Redis)
  --redis-key-prefix <p> prefix of the channels' Redis keys (default reference:)
  --no-clocks            do not run the ticker/news/fast clocks (several instances on one Redis:
                         run them in one instance only)
  --retry-after <s>      Retry-After of 429/503 faults (default 1)
  --no-control           disable the /__control/* test API
  --quiet                no access log
  -h, --help             this text

The HS256 secret is read from REFERENCE_SERVER_SECRET (random per run when unset): give several
instances the same one so that a token minted by one is accepted by all.
With REDIS_URL set (redis://host:port), the channels' event logs live in Redis streams, shared by
every instance using the same URL and key prefix; otherwise they live in this process's memory.`

function int(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}`)
    process.exit(2)
  }
  return n
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    ttl: { type: 'string' },
    'api-key': { type: 'string' },
    heartbeat: { type: 'string' },
    interval: { type: 'string' },
    'fast-interval': { type: 'string' },
    'ring-size': { type: 'string' },
    'redis-key-prefix': { type: 'string' },
    'no-clocks': { type: 'boolean' },
    'retry-after': { type: 'string' },
    'no-control': { type: 'boolean' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
})

if (values.help) {
  console.log(HELP)
  process.exit(0)
}

const options: ReferenceServerOptions = {
  port: int('port', values.port, 0) ?? 8787,
  host: values.host ?? '127.0.0.1',
  control: !values['no-control'],
  log: values.quiet ? () => {} : (line) => console.log(`${new Date().toISOString()} ${line}`),
}
const set = <K extends keyof ReferenceServerOptions>(key: K, value: ReferenceServerOptions[K] | undefined) => {
  if (value !== undefined) options[key] = value
}
set('tokenTtl', int('ttl', values.ttl, 1))
set('apiKey', values['api-key'])
set('heartbeatMs', int('heartbeat', values.heartbeat, 0))
set('eventInterval', int('interval', values.interval, 1))
set('fastInterval', int('fast-interval', values['fast-interval'], 1))
set('ringSize', int('ring-size', values['ring-size'], 1))
set('retryAfter', int('retry-after', values['retry-after'], 0))
set('secret', process.env.REFERENCE_SERVER_SECRET || undefined)
set('redisUrl', process.env.REDIS_URL || undefined)
set('redisKeyPrefix', values['redis-key-prefix'])
if (values['no-clocks']) options.clocks = false

const server = await startReferenceServer(options)
// The URL may carry a password: say only that Redis is used.
console.log(`reference SSE server listening on ${server.url} (event logs: ${options.redisUrl ? 'Redis, from REDIS_URL' : 'in memory'})`)
console.log(`  token:  curl -X POST -H 'x-api-key: ${values['api-key'] ? '<your key>' : server.apiKey}' ${server.url}/auth/sse-token`)
console.log(`  stream: ${server.url}/stream?channel=ticker  (Authorization: Bearer <token> or ?token=<token>)`)

let stopping = false
const stop = () => {
  if (stopping) process.exit(1) // second Ctrl-C: do not wait
  stopping = true
  void server.close().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
