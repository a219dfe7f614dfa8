// The API part's public surface: the local HTTP API the running twin serves, and the client
// the CLI calls it with.
export { createApi, listenApi, loopbackHosts, MAX_BODY_BYTES, type ApiBackend, type ApiAccess } from './server.js'
export { openApi } from './openapi.js'
export { mountVaultApi, type VaultBackend } from './vault-routes.js'
export { apiFilePath, apiFileSchema, fetchApi, callApi, apiError, type ApiFile } from './client.js'
export type { CallBody, SendBody } from './schemas.js'
export { ApiError, AnsweredError, API_ERRORS, type ApiErrorCode } from './errors.js'
