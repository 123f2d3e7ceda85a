/**
 * Fault injection for the reference server: parsing `fault=` values (query or control API) and the
 * fixed payloads some faults send. Syntax: `name` or `name:arg` (`name=arg` is accepted too).
 */

/** Statuses `/stream` can be told to answer with. */
export const STREAM_FAULT_STATUSES = [204, 400, 401, 403, 404, 429, 500, 502, 503] as const
/** Statuses `/auth/sse-token` can be told to answer with. */
export const TOKEN_FAULT_STATUSES = [400, 401, 403, 404, 429, 500, 502, 503] as const

/** A fault for one `/stream` connection. */
export type StreamFault =
  /** Send N events (replayed or live), then destroy the socket: no clean end of the chunked body. */
  | { kind: 'drop-after'; count: number }
  /** 200 with SSE headers, then not one byte (not even heartbeats). */
  | { kind: 'stall' }
  /** Answer with this status (JSON body; 429/503 carry `Retry-After`; 204 has no body). */
  | { kind: 'status'; status: number }
  /** 200 with `Content-Type: text/plain`. */
  | { kind: 'content-type' }
  /** Send {@link MALFORMED_PRELUDE} first, then the normal stream. */
  | { kind: 'malformed' }
  /** Send one `event: oversized` event whose single data line is `bytes` long, then the normal stream. */
  | { kind: 'oversized'; bytes: number }
  /** Write every byte separately, `ms` apart. */
  | { kind: 'drip'; ms: number }
  /** Publish N events on the channel at once when the connection opens (all subscribers get them). */
  | { kind: 'burst'; count: number }

/** A fault for one `/auth/sse-token` request. */
export type TokenFault =
  /** Answer with this status (JSON error body; 429/503 carry `Retry-After`). */
  | { kind: 'status'; status: number }
  /** Wait `ms`, then answer normally. */
  | { kind: 'delay'; ms: number }
  /** Never answer; the request stays open until the client gives up (or the server closes). */
  | { kind: 'timeout' }
  /** 200 with a body that is not JSON. */
  | { kind: 'malformed-json' }
  /** 200 with `{}` (no token). */
  | { kind: 'missing-token' }

export type FaultParseResult<T> = { ok: true; fault: T } | { ok: false; message: string }

const MAX_COUNT = 100_000

function splitFault(text: string): [string, string | undefined] {
  const match = /^([a-z-]+)(?:[:=](.*))?$/.exec(text.trim())
  return match ? [match[1]!, match[2]] : ['', undefined]
}

function parseInteger(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined
  const value = Number(text)
  return value >= min && value <= max ? value : undefined
}

/** Parses a `/stream` fault. Error messages never quote the input beyond the fault's name. */
export function parseStreamFault(text: string): FaultParseResult<StreamFault> {
  const [name, arg] = splitFault(text)
  const bad = (message: string): FaultParseResult<StreamFault> => ({ ok: false, message })
  switch (name) {
    case 'drop-after': {
      const count = parseInteger(arg, 0, MAX_COUNT)
      return count === undefined ? bad('fault drop-after needs a count: drop-after:<0..100000>') : { ok: true, fault: { kind: 'drop-after', count } }
    }
    case 'stall':
    case 'content-type':
    case 'malformed':
      return arg === undefined ? { ok: true, fault: { kind: name } } : bad(`fault ${name} takes no argument`)
    case 'status': {
      const status = parseInteger(arg, 100, 599)
      return status !== undefined && (STREAM_FAULT_STATUSES as readonly number[]).includes(status)
        ? { ok: true, fault: { kind: 'status', status } }
        : bad(`fault status needs one of ${STREAM_FAULT_STATUSES.join(', ')}: status:<code>`)
    }
    case 'oversized': {
      const bytes = arg === undefined ? 2 * 1024 * 1024 : parseInteger(arg, 1, 64 * 1024 * 1024)
      return bytes === undefined ? bad('fault oversized takes a size in bytes: oversized[:<1..67108864>]') : { ok: true, fault: { kind: 'oversized', bytes } }
    }
    case 'drip': {
      const ms = arg === undefined ? 2 : parseInteger(arg, 0, 1000)
      return ms === undefined ? bad('fault drip takes a delay in ms: drip[:<0..1000>]') : { ok: true, fault: { kind: 'drip', ms } }
    }
    case 'burst': {
      const count = parseInteger(arg, 1, MAX_COUNT)
      return count === undefined ? bad('fault burst needs a count: burst:<1..100000>') : { ok: true, fault: { kind: 'burst', count } }
    }
    default:
      return bad('unknown fault; expected one of drop-after:N, stall, status:CODE, content-type, malformed, oversized[:BYTES], drip[:MS], burst:N')
  }
}

/** Parses an `/auth/sse-token` fault. */
export function parseTokenFault(text: string): FaultParseResult<TokenFault> {
  const [name, arg] = splitFault(text)
  const bad = (message: string): FaultParseResult<TokenFault> => ({ ok: false, message })
  switch (name) {
    case 'status': {
      const status = parseInteger(arg, 100, 599)
      return status !== undefined && (TOKEN_FAULT_STATUSES as readonly number[]).includes(status)
        ? { ok: true, fault: { kind: 'status', status } }
        : bad(`fault status needs one of ${TOKEN_FAULT_STATUSES.join(', ')}: status:<code>`)
    }
    case 'delay': {
      const ms = parseInteger(arg, 0, 120_000)
      return ms === undefined ? bad('fault delay needs a duration: delay:<0..120000 ms>') : { ok: true, fault: { kind: 'delay', ms } }
    }
    case 'timeout':
    case 'malformed-json':
    case 'missing-token':
      return arg === undefined ? { ok: true, fault: { kind: name } } : bad(`fault ${name} takes no argument`)
    default:
      return bad('unknown fault; expected one of status:CODE, delay:MS, timeout, malformed-json, missing-token')
  }
}

/** The canonical text of a fault (for counters and logs). */
export function describeFault(fault: StreamFault | TokenFault): string {
  switch (fault.kind) {
    case 'drop-after':
    case 'burst':
      return `${fault.kind}:${fault.count}`
    case 'status':
      return `status:${fault.status}`
    case 'oversized':
      return `oversized:${fault.bytes}`
    case 'drip':
    case 'delay':
      return `${fault.kind}:${fault.ms}`
    default:
      return fault.kind
  }
}

/**
 * Sent first by `fault=malformed`. A conforming parser (WHATWG HTML 9.2.6) dispatches exactly two
 * events from it and keeps the stream open:
 * 1. type `malformed`, data `{"ok":1}` (from CR-only line endings), last event id unchanged
 *    (the `id` with a NUL is ignored);
 * 2. type `message`, data `second\nline` (CRLF endings, two data lines).
 * Ignored along the way: the leading BOM, a comment, an unknown field, a line without a colon
 * (a field named `nocolon` with an empty value), `retry: soon` (not digits).
 */
export const MALFORMED_PRELUDE =
  '\uFEFF: malformed prelude\n' +
  'foo: bar\n' +
  'nocolon\n' +
  'id: bad\0id\n' +
  'retry: soon\n' +
  'event: malformed\r' +
  'data: {"ok":1}\r' +
  '\r' +
  'data: second\r\n' +
  'data: line\r\n' +
  '\r\n'
