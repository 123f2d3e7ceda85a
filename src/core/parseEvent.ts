import { EventStreamError } from './errors'

/** The outcome of parsing one event's data: the value, or the typed error a throwing parser gave. */
export type ParseOutcome<TData> = { data: TData; error?: undefined } | { error: EventStreamError; data?: undefined }

/**
 * Runs an app's `parse` on one event's data. A throw becomes an `EventStreamError` of kind
 * `'parse'` naming the event type and id (never the data, which may be sensitive), with the
 * parser's error as `cause`. Without a parser the data string is the value.
 */
export function parseEventData<TData>(
  parse: ((data: string, event: { type: string; id: string | undefined }) => TData) | undefined,
  type: string,
  text: string,
  id: string | undefined,
): ParseOutcome<TData> {
  if (!parse) return { data: text as unknown as TData }
  try {
    return { data: parse(text, { type, id }) }
  } catch (cause) {
    return { error: new EventStreamError('parse', `Could not parse a "${type}" event${id === undefined ? '' : ` (id ${id})`}`, { cause }) }
  }
}
