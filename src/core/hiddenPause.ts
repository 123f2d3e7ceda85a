import { startDeadline, type Deadline } from './timers'
import type { Platform } from './types'

/**
 * `pauseWhenHidden`: a stream whose page has been hidden for `ms` pauses (drops its connection),
 * and starts again when the page is shown (and the host is online). A unit of its own: the stream
 * hands it visibility changes and asks whether the page was hidden too long.
 */
export interface HiddenPause {
  /** The page stayed hidden past the delay: the stream is paused until it is shown again. */
  readonly tooLong: boolean
  /** The document's visibility changed (or the stream started in a hidden page). */
  visibility(hidden: boolean): void
  /** The stream stopped: nothing pending. */
  reset(): void
  /** Re-reads the deadline from the clocks (after a sleep). */
  check(): void
}

export function createHiddenPause(platform: Platform, ms: number, stream: { pause(): void; resume(): void }): HiddenPause {
  let timer: Deadline | undefined
  let tooLong = false
  return {
    get tooLong() {
      return tooLong
    },
    visibility(hidden) {
      timer?.cancel()
      if (hidden) {
        timer = startDeadline(platform, ms, () => {
          tooLong = true
          stream.pause()
        })
      } else if (tooLong) {
        tooLong = false
        if (platform.isOnline()) stream.resume()
      }
    },
    reset() {
      timer?.cancel()
      tooLong = false
    },
    check: () => timer?.check(),
  }
}
