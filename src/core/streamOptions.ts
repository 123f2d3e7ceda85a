import type { EventStreamOptions } from './eventStream'

/**
 * The options outside the stream key, none of which has a default: the url is keyed on its own
 * (its token query parameter removed), `lastEventId`, `position` and `platform` are the first
 * consumer's, and the callbacks are each consumer's.
 */
type UnkeyedOption = 'url' | 'parse' | 'onEvent' | 'onError' | 'onGap' | 'lastEventId' | 'position' | 'platform'

/**
 * The stream's options, written once: every option of the stream key (two consumers share one
 * connection only when they agree on all of them, `registry.ts`), each with its default
 * (`undefined`: none). Everything else is derived from it: `STREAM_DEFAULTS` (what the stream, the
 * registry and the cross-tab group key fall back to) and `STREAM_KEY_OPTIONS` (the registry's key,
 * the options the hook passes through, and their type, `PassThroughOptions`). The type check
 * fails until every option of `EventStreamOptions` is either here or in `UnkeyedOption`, so a new
 * option is one line here plus its documentation (on `EventStreamOptions` and in docs/core.md).
 */
export const STREAM_OPTIONS = {
  transport: 'auto',
  tokens: undefined,
  withCredentials: false,
  headers: undefined,
  method: 'GET',
  body: undefined,
  events: ['message'],
  tokenQueryParam: 'token',
  lastEventIdQueryParam: 'lastEventId',
  reconnect: undefined,
  idleTimeout: 0,
  rotation: 'overlap',
  pauseWhenHidden: undefined,
  maxLineLength: 1_048_576,
  maxEventSize: 4_194_304,
  crossTab: undefined,
} as const satisfies { [K in Exclude<keyof EventStreamOptions<unknown>, UnkeyedOption>]-?: EventStreamOptions<unknown>[K] }

type Table = typeof STREAM_OPTIONS

/** The options that are part of the stream key (besides the url). */
export type StreamKeyOption = keyof Table

/**
 * The options that decide whether two consumers can share one connection, besides the url (whose
 * token query parameter is ignored). Objects (`transport`, `tokens`) compare by identity, the rest
 * by value. `lastEventId` and `platform` are not in the key: they are the first consumer's.
 */
export const STREAM_KEY_OPTIONS = /* @__PURE__ */ Object.keys(STREAM_OPTIONS) as readonly StreamKeyOption[]

/** The defaults of the options that have one (see each option's documentation). */
export const STREAM_DEFAULTS = /* @__PURE__ */ withoutUndefined(STREAM_OPTIONS)

function withoutUndefined<T extends object>(table: T): { readonly [K in keyof T as T[K] extends undefined ? never : K]: T[K] } {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(table)) if (value !== undefined) out[name] = value
  return out as ReturnType<typeof withoutUndefined<T>>
}
