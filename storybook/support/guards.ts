/**
 * Checks every story gets for free (wired in `.storybook/preview.tsx`):
 * - no `console.error` while the story runs;
 * - no minted token in any console message (any level) or in the story's DOM text or attributes.
 *
 * The console is wrapped, not replaced: messages still reach devtools and the test output.
 */
import type { MockBackend } from '../mocks/backend'

const LEVELS = ['log', 'info', 'warn', 'error', 'debug'] as const
type Level = (typeof LEVELS)[number]

export interface ConsoleRecord {
  level: Level
  text: string
}

/** Records console calls until the returned function is called (which restores the console). */
export function captureConsole(records: ConsoleRecord[]): () => void {
  const originals = new Map<Level, (...args: unknown[]) => void>()
  for (const level of LEVELS) {
    const original = console[level] as (...args: unknown[]) => void
    originals.set(level, original)
    console[level] = (...args: unknown[]) => {
      records.push({ level, text: args.map(stringify).join(' ') })
      original.apply(console, args)
    }
  }
  return () => {
    for (const [level, original] of originals) console[level] = original
  }
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ''}`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Texts in which a token could surface: visible text, attribute values, form values. */
function domTexts(root: Element): string[] {
  const texts = [root.textContent ?? '']
  for (const element of Array.from(root.querySelectorAll('*'))) {
    for (const attribute of Array.from(element.attributes)) texts.push(attribute.value)
    if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) texts.push(element.value)
  }
  return texts
}

/**
 * Throws when a minted token (or a long enough piece of one: its random signature part) shows up
 * in the DOM under `root` or in a console record. The message names where, never the token.
 */
export function assertNoTokenLeak(backend: MockBackend, root: Element, records: readonly ConsoleRecord[] = []): void {
  const needles = backend.mintedTokens().flatMap((token) => {
    const signature = token.split('.')[2]
    return signature ? [token, encodeURIComponent(token), signature] : [token, encodeURIComponent(token)]
  })
  if (needles.length === 0) return
  const dom = domTexts(root)
  if (dom.some((text) => needles.some((needle) => text.includes(needle)))) {
    throw new Error('A stream token is visible in the story DOM (text or attribute). Tokens must never be rendered.')
  }
  const leaked = records.find((record) => needles.some((needle) => record.text.includes(needle)))
  if (leaked) throw new Error(`A stream token appeared in a console.${leaked.level} message. Tokens must never be logged.`)
}

/** Throws when the story logged an error. */
export function assertNoConsoleErrors(records: readonly ConsoleRecord[]): void {
  const errors = records.filter((record) => record.level === 'error')
  if (errors.length > 0) {
    // The backend's tokens are not known here; errors are quoted truncated, and the token check runs first.
    throw new Error(`The story logged ${errors.length} console error(s); first: ${errors[0]!.text.slice(0, 300)}`)
  }
}
