import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/** Reads the deployment files the way Docker and Compose would, without a docker engine. */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const read = (name: string) => readFileSync(join(ROOT, name), 'utf8')

export interface EnvExample {
  values: Record<string, string>
  required: string[]
  commented: string[]
}

/** Active `NAME=value` lines, the ones whose comment block says REQUIRED, and the commented-out names. */
export function envExample(): EnvExample {
  const result: EnvExample = { values: {}, required: [], commented: [] }
  let comment: string[] = []
  for (const line of read('.env.example').split('\n')) {
    const active = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    const inactive = /^# ?([A-Z][A-Z0-9_]*)=/.exec(line)
    if (active) {
      result.values[active[1]!] = active[2]!.replace(/^"(.*)"$/, '$1')
      if (comment.some((c) => c.includes('REQUIRED'))) result.required.push(active[1]!)
      comment = []
    } else if (inactive) {
      result.commented.push(inactive[1]!)
    } else if (line.startsWith('#')) {
      comment.push(line)
    } else {
      comment = []
    }
  }
  return result
}

export interface ComposeService {
  image?: string
  build?: unknown
  command?: string[]
  ports?: string[]
  env_file?: string | string[]
  environment?: Record<string, string>
  volumes?: unknown[]
  restart?: string
}

export function compose(): { services: Record<string, ComposeService> } {
  return parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> }
}

export interface RuntimeStage {
  env: Record<string, string>
  copies: [string, string][]
  cmd: string[]
  healthcheck: string
}

/** The last stage of the Dockerfile: its ENV, the files COPYed from the build context, CMD and HEALTHCHECK. */
export function runtimeStage(): RuntimeStage {
  const text = read('Dockerfile').replace(/\\\n\s*/g, '')
  const stage = text.slice(text.lastIndexOf('\nFROM '))
  const stage_: RuntimeStage = { env: {}, copies: [], cmd: [], healthcheck: '' }
  for (const line of stage.split('\n')) {
    const [instruction, rest = ''] = line.split(/ (.*)/s) as [string, string?]
    if (instruction === 'ENV') for (const [, k, v] of rest.matchAll(/(\w+)=(\S+)/g)) stage_.env[k!] = v!
    if (instruction === 'COPY' && !rest.startsWith('--from')) stage_.copies.push(rest.split(' ') as [string, string])
    if (instruction === 'CMD') stage_.cmd = JSON.parse(rest) as string[]
    if (instruction === 'HEALTHCHECK') stage_.healthcheck = rest.slice(rest.indexOf('CMD ') + 4)
  }
  return stage_
}
