/** What a caller's JWT may grant (its `scope` claim): each route names the scopes that admit it. */
export const SCOPES = ['tokens:read', 'tokens:revoke', 'accounts:read', 'accounts:write'] as const
export type Scope = (typeof SCOPES)[number]

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value)
