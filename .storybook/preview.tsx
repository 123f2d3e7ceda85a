/// <reference types="vite/client" />
/**
 * Every story gets:
 * - Mock Service Worker, started once (msw-storybook-addon's CSF 3 loader), handlers reset per story;
 * - a fresh mock backend (storybook/mocks/backend.ts) built from `parameters.backend` and the
 *   story's args, its handlers installed, disposed after the story;
 * - `<BackendContext>` so demo components can show what the backend saw;
 * - guards: no console error, and no minted token in the DOM or in any console message.
 */
import type { Decorator, Loader, Preview, StoryContext } from '@storybook/react-vite'
import { mswLoader } from 'msw-storybook-addon/csf3'
import { BackendContext } from '../storybook/components/backendContext'
import { createMockBackend, type MockBackend, type MockBackendOptions } from '../storybook/mocks/backend'
import { assertNoConsoleErrors, assertNoTokenLeak, captureConsole, type ConsoleRecord } from '../storybook/support/guards'
import { backendOptionsFromArgs } from '../storybook/support/args'

declare module 'storybook/internal/csf' {
  interface Parameters {
    /** Mock backend options for this story (merged with the args it understands, see `backendOptionsFromArgs`). */
    backend?: Partial<MockBackendOptions>
  }
}

async function startWorker() {
  const { setupWorker } = await import('msw/browser')
  const worker = setupWorker()
  await worker.start({
    quiet: true,
    // Absolute: in the vitest browser runner the page lives under /__vitest_test__/, while static
    // dirs are served from the root, as they are in `storybook dev` and at the root of the build.
    serviceWorker: { url: `${import.meta.env.BASE_URL ?? '/'}mockServiceWorker.js` },
    onUnhandledRequest(request, print) {
      // Module and asset requests go through the worker too; only an unmocked API call is a bug.
      if (new URL(request.url).pathname.startsWith('/api/')) print.error()
    },
  })
  return worker
}

const backendLoader: Loader = async (context) => {
  const backend = createMockBackend({ ...context.parameters.backend, ...backendOptionsFromArgs(context.args) })
  return { backend }
}

function backendOf(context: Pick<StoryContext, 'loaded'>): MockBackend | undefined {
  return (context.loaded as { backend?: MockBackend }).backend
}

const consoleRecords = new WeakMap<object, ConsoleRecord[]>()

const withBackend: Decorator = (Story, context) => {
  const backend = backendOf(context)
  if (!backend) return <Story />
  // Controls change args without re-running loaders: apply them now; the key remounts the story so
  // it reconnects with the new settings.
  backend.configure(backendOptionsFromArgs(context.args))
  return (
    <BackendContext.Provider value={backend}>
      <Story key={JSON.stringify(context.args)} />
    </BackendContext.Provider>
  )
}

const preview: Preview = {
  loaders: [mswLoader(startWorker), backendLoader],
  decorators: [withBackend],
  async beforeEach(context) {
    const backend = backendOf(context)
    // Loaders run before `beforeEach`, so msw is up and its handlers were just reset.
    if (backend) context.msw.use(...backend.handlers)
    const records: ConsoleRecord[] = []
    consoleRecords.set(context.loaded, records)
    const restore = captureConsole(records)
    return () => {
      restore()
      backend?.dispose()
    }
  },
  async afterEach(context) {
    const backend = backendOf(context)
    const records = consoleRecords.get(context.loaded) ?? []
    if (backend) assertNoTokenLeak(backend, context.canvasElement, records)
    assertNoConsoleErrors(records)
  },
  parameters: {
    layout: 'padded',
    controls: { expanded: true },
  },
}

export default preview
