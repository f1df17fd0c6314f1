import { CircuitBreaker } from './circuit-breaker.js'
import { EndpointLimiter } from './endpoint-limiter.js'

export interface ProviderGate {
  breaker: CircuitBreaker
  limiter: EndpointLimiter
}

/**
 * One breaker and one concurrency cap per token endpoint URL (not per provider name:
 * tenants of one template have different endpoints), created on first use.
 */
export class ProviderGates {
  private readonly gates = new Map<string, ProviderGate>()

  constructor(
    private readonly concurrency: number,
    private readonly clock: () => number,
  ) {}

  for(tokenUrl: string): ProviderGate {
    let gate = this.gates.get(tokenUrl)
    if (!gate) {
      gate = { breaker: new CircuitBreaker(this.clock), limiter: new EndpointLimiter(this.concurrency, this.concurrency * 16) }
      this.gates.set(tokenUrl, gate)
    }
    return gate
  }
}
