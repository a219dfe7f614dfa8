export { resolveHome, homePaths, prepareNewHome, type HomePaths } from './home.js'
export { LocalTwinError, TWIN_ERRORS, type LocalTwinErrorCode } from './errors.js'
export {
  initTwin, restoreTwin, openIdentity, rotateTwin, unlockKeys, signWithTwin, exportKel, validateName,
  type TwinIdentity
} from './identity.js'
