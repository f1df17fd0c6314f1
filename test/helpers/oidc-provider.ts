// The demo (`npm run demo`) runs the same local authorization server: it lives in scripts/support/.
export * from '../../scripts/support/oidc-provider.js'
