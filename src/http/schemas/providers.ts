import { Type } from '@sinclair/typebox'

export const ProvidersBody = Type.Object(
  {
    providers: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          template: Type.String(),
          scopes: Type.Array(Type.String()),
          pkce: Type.Boolean(),
          revocation: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)
