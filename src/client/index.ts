export { TokenBrokerClient, type GetTokenOptions, type TokenBrokerClientOptions } from './client.js'
export type { AccessToken } from './token-cache.js'
export type { CallerToken } from './broker-call.js'
export {
  AccountNotFoundError,
  ForbiddenError,
  ProviderUnavailableError,
  RateLimitedError,
  ReauthenticationRequiredError,
  TokenBrokerError,
  UnauthorizedError,
  type ErrorDetails,
} from './errors.js'
