/* Public entry point of the avatarkit web SDK. */

export { AvatarSDK, AvatarSDK as AvatarKit, VERSION, ACCEPTED_SAMPLE_RATES } from './sdk.js';
export type { AvatarSDKConfiguration, AudioFormat } from './sdk.js';
export { AvatarManager, Avatar, type LoadProgress } from './manager.js';
export { AvatarView, type ViewTransform, type AvatarViewOptions } from './view.js';
export { AvatarController, type DrivingServiceMode, type ControllerStats, type RenderRecord } from './controller.js';
export type { ConnectionState, ConversationState, ConversationReason } from './conversation.js';
export { ErrorCode, AvatarKitError, type AvatarError, type ErrorCodeValue } from './errors.js';
export { ARKIT_NAMES, ARKIT, arkitIndex } from './arkit.js';
export { AvatarRig } from './rig.js';
export type { LogLevel } from './log.js';
export * as payload from './proto.js';
