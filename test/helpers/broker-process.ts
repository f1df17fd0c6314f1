/** The broker-process harness lives in scripts/support so the soak can use it too (scripts never import from test/). */
export * from '../../scripts/support/broker-process.js'
