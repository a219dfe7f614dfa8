export { resolveHome, homePaths, prepareNewHome, type HomePaths } from './home.js'
export {
  initTwin, restoreTwin, openIdentity, rotateTwin, unlockKeys, signWithTwin, exportKel, validateName,
  type TwinIdentity
} from './identity.js'
