/**
 * docs/api.md lists the public API: under one `## \`<entry>\`` heading per package entry, one
 * bullet `- \`name\`: what it is` per exported name, values and types alike. This test reads every
 * export of each entry's source with the TypeScript compiler and compares the two sets, so a name
 * exported but not documented, or documented but not exported, fails with that name.
 *
 * Adding an entry is one line in ENTRIES (and its heading in docs/api.md).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Every package entry: its public name and the source file that defines its exports. */
const ENTRIES: ReadonlyArray<{ entry: string; source: string }> = [
  { entry: 'use-event-stream', source: 'src/index.ts' },
  { entry: 'use-event-stream/core', source: 'src/entries/core.ts' },
  { entry: 'use-event-stream/server', source: 'src/server/index.ts' },
  { entry: 'use-event-stream/server/redis', source: 'src/server/redis.ts' },
  { entry: 'use-event-stream/testing', source: 'src/testing/index.ts' },
  { entry: 'use-event-stream/react-native', source: 'src/reactNative/index.ts' },
]

const API_DOC = 'docs/api.md'

/** The bullets of docs/api.md by entry heading, with every line that breaks the format. */
function readApiDoc(text: string): { sections: Map<string, string[]>; problems: string[] } {
  const sections = new Map<string, string[]>()
  const problems: string[] = []
  let current: string[] | undefined
  let inFence = false
  text.split('\n').forEach((line, index) => {
    const where = `${API_DOC}:${index + 1}`
    if (line.startsWith('```')) inFence = !inFence
    if (inFence) return
    if (line.startsWith('## ')) {
      const heading = /^## `([^`]+)`\s*$/.exec(line)
      if (!heading) {
        problems.push(`${where}: a level-2 heading must be exactly one entry name in backticks, e.g. ## \`use-event-stream/core\`; got "${line}"`)
        current = undefined
        return
      }
      const entry = heading[1]!
      if (sections.has(entry)) problems.push(`${where}: entry ${entry} has a second heading`)
      current = []
      sections.set(entry, current)
      return
    }
    if (!current || !line.startsWith('- ')) return
    const bullet = /^- `([A-Za-z_$][\w$]*)`: \S/.exec(line)
    if (!bullet) {
      problems.push(`${where}: a bullet must read "- \`name\`: what it is"; got "${line}"`)
      return
    }
    current.push(bullet[1]!)
  })
  return { sections, problems }
}

/** Every name an entry exports (values and types), as the compiler sees it. */
function exportsOf(program: ts.Program, source: string): string[] {
  const file = program.getSourceFile(path.join(ROOT, source))
  if (!file) throw new Error(`${source} is not part of the program`)
  const checker = program.getTypeChecker()
  const module = checker.getSymbolAtLocation(file)
  if (!module) throw new Error(`${source} is not a module`)
  return checker.getExportsOfModule(module).map((symbol) => symbol.name)
}

function createProgram(): ts.Program {
  const configPath = path.join(ROOT, 'tsconfig.json')
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) } })
  if (!config) throw new Error('tsconfig.json could not be read')
  return ts.createProgram(ENTRIES.map((e) => path.join(ROOT, e.source)), config.options)
}

describe('docs/api.md lists the public API of every entry', () => {
  const doc = readApiDoc(readFileSync(path.join(ROOT, API_DOC), 'utf8'))
  const program = createProgram()

  it('every line of docs/api.md follows the format a reader (and this test) relies on', () => {
    expect(doc.problems).toEqual([])
  })

  it('every heading of docs/api.md names an entry this test knows (add it to ENTRIES)', () => {
    const known = new Set(ENTRIES.map((e) => e.entry))
    const unknown = [...doc.sections.keys()].filter((entry) => !known.has(entry))
    expect(unknown.map((entry) => `${API_DOC} documents ${entry}, which ENTRIES in test/node/public-api.test.ts does not list`)).toEqual([])
  })

  it.each(ENTRIES)('$entry: documented names = exported names ($source)', ({ entry, source }) => {
    const documented = doc.sections.get(entry)
    expect(documented, `${API_DOC} has no heading ## \`${entry}\``).toBeDefined()
    const exported = new Set(exportsOf(program, source))
    const listed = new Set(documented)
    const duplicates = documented!.filter((name, i) => documented!.indexOf(name) !== i)
    const problems = [
      ...[...exported].filter((name) => !listed.has(name)).map((name) => `${entry} exports ${name}, which ${API_DOC} does not document`),
      ...[...listed].filter((name) => !exported.has(name)).map((name) => `${API_DOC} documents ${name} under ${entry}, which ${source} does not export`),
      ...duplicates.map((name) => `${API_DOC} lists ${name} twice under ${entry}`),
    ]
    expect(problems).toEqual([])
  })
})
