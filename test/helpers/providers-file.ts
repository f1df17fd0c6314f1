import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'

/** Writes a providers YAML file to a temp dir and returns its path. */
export function writeProvidersFile(providers: Record<string, Record<string, unknown>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tb-providers-'))
  const path = join(dir, 'providers.yaml')
  writeFileSync(path, stringify({ providers }))
  return path
}
