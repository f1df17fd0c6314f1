// `npm run bench` starts the same throw-away redis-server: it lives in scripts/support/.
export * from '../../scripts/support/redis-server.js'
