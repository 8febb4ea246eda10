/* Public entry point of the avatarkit web SDK: what apps need, nothing internal (the protobuf
 * reader and writer stay inside; apps hand the SDK whole Messages). */

export { AvatarSDK, AvatarSDK as AvatarKit, AvatarSDKImpl, VERSION, ACCEPTED_SAMPLE_RATES } from './sdk.js';
export type { AvatarSDKConfiguration, AudioFormat } from './sdk.js';
export { AvatarManager, Avatar, type LoadProgress } from './manager.js';
export { fetchAvatarEntry, AVATAR_ID_PATTERN, type AvatarEntry, type RegistryAvatarRequest } from './registry.js';
export { AvatarView, type ViewTransform, type AvatarViewOptions } from './view.js';
export { AvatarController, type DrivingServiceMode, type ControllerStats, type RenderRecord } from './controller.js';
export type { ConnectionState, ConversationState, ConversationReason } from './conversation.js';
export {
  ConnectionStateEvent, ConversationStateEvent, AvatarErrorEvent, FirstRenderEvent, AudioStartEvent,
  type AvatarControllerEventMap, type AvatarViewEventMap, type TypedEventTarget,
} from './events.js';
export { ErrorCode, AvatarKitError, CloseCode, type AvatarError, type ErrorCodeValue } from './errors.js';
export { MAX_MESSAGE_BYTES, MAX_PAYLOAD_FRAMES, MAX_PAYLOAD_PACKETS } from './limits.js';
export { describeMessage, type MessageSummary } from './proto.js';
export { ARKIT_NAMES, ARKIT, arkitIndex, missingChannels, VISEME_NAMES, visemeIndex, visemeWeights } from './arkit.js';
export { parseAvatarModel, glbExtensions, type ModelLoadOptions } from './loader.js';
export { AvatarRig } from './rig.js';
export type { LogLevel } from './log.js';
