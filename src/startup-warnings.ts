import type { Config } from './config.js'

/** What an operator should know at start: settings that work but are probably not what they want. */
export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [...config.warnings]
  if (config.store.kind === 'memory') {
    warnings.push('REDIS_URL is not set: using the embedded in-memory store (one instance, nothing survives a restart)')
  }
  if (!config.encryptionKeys) {
    warnings.push('ENCRYPTION_KEYS is not set: tokens are sealed with a key generated for this process only')
  }
  for (const { name, variables } of config.skippedProviders) {
    warnings.push(`provider "${name}" in ${config.providersFile} is skipped: none of ${variables.join(', ')} is set`)
  }
  if (config.providers.length === 0) {
    warnings.push(
      config.providersFile
        ? `no provider is configured: set the variables of a provider in ${config.providersFile}; until then nothing can be linked`
        : 'no provider is configured: create providers.yaml in the working directory (start from providers.example.yaml) ' +
            'or set PROVIDERS_FILE; until then nothing can be linked',
    )
  }
  return warnings
}
