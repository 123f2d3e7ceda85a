import type { Platform, PlatformEventTarget } from '../core/types'

/** A document for the leader's stream whose visibility is the group's: hidden when every member is. */
export interface GroupDocument extends PlatformEventTarget {
  visibilityState: 'visible' | 'hidden'
}

/**
 * `pauseWhenHidden` for a group: the leader's stream pauses only when every member's page is
 * hidden. Followers say when theirs is shown or hidden (`vis`, repeated every beat while visible);
 * one not heard from for `stale` ms counts as hidden.
 */
export interface GroupVisibility {
  readonly document: GroupDocument
  /** A follower's page is shown or hidden. */
  note(from: string, hidden: boolean): void
  /** A follower left. */
  forget(from: string): void
  /** Re-reads the group's visibility (`selfHidden`: the leader's own page). */
  update(selfHidden: boolean): void
}

export function createGroupVisibility(platform: Platform, selfHidden: boolean, stale: number): GroupVisibility {
  const visible = new Map<string, number>()
  const listeners = new Set<() => void>()
  const document: GroupDocument = {
    visibilityState: selfHidden ? 'hidden' : 'visible',
    addEventListener: (type, listener) => void (type === 'visibilitychange' && listeners.add(listener)),
    removeEventListener: (_type, listener) => void listeners.delete(listener),
  }
  let self = selfHidden
  const update = (isHidden: boolean) => {
    self = isHidden
    const now = platform.monotonic()
    let anyVisible = !isHidden
    for (const [id, at] of visible) {
      if (now - at > stale) visible.delete(id)
      else anyVisible = true
    }
    const state = anyVisible ? 'visible' : 'hidden'
    if (document.visibilityState === state) return
    document.visibilityState = state
    for (const listener of Array.from(listeners)) listener()
  }
  return {
    document,
    note(from, hidden) {
      if (hidden) visible.delete(from)
      else visible.set(from, platform.monotonic())
      update(self)
    },
    forget(from) {
      visible.delete(from)
      update(self)
    },
    update,
  }
}
