/* Pack/parse of Message and the bare payloads, mapping protobuf-c structs to the plain C
 * views of protocol.h. Parsed views point into the unpacked protobuf-c tree, which the
 * holder below owns; every payload is validated before a caller sees it. */
#include <stdlib.h>
#include <string.h>

#include "avatarkit.pb-c.h"
#include "avatarkit/protocol.h"
#include "protocol_internal.h"
#include "alloc_internal.h"

typedef struct holder {
  ak_message pub; /* first: ak_message_free casts back */
  Message__Message *pb;
  Message__AvatarAudio *pb_audio;   /* bare payload parse */
  Message__AvatarMotion *pb_motion; /* bare payload parse */
  const uint8_t **pkts;
  size_t *pkt_lens;
  ak_kv *kvs;
  uint8_t *audio_bytes, *motion_bytes; /* only when the payload spans are ambiguous */
  const uint8_t *src;
  size_t src_len; /* the parsed buffer (borrowed) */
} holder;

static const char *nz(const char *s) {
  return s ? s : "";
}

/* protobuf-c's decoded trees come from the allocator hook too. */
static void *pb_alloc(void *data, size_t size) {
  (void)data;
  return ak__malloc(size);
}
static void pb_free(void *data, void *ptr) {
  (void)data;
  ak__free(ptr);
}
static ProtobufCAllocator k_pb_alloc = {.alloc = pb_alloc, .free = pb_free, .allocator_data = NULL};

/* For unpacking: remembers whether an allocation failed, so that a NULL from protobuf-c reads
 * as AK_ENOMEM rather than as a malformed message. */
static void *pb_alloc_noting(void *data, size_t size) {
  void *p = ak__malloc(size);
  if (!p) *(int *)data = 1;
  return p;
}
#define PB_UNPACK_ALLOC(oom_flag) \
  ((ProtobufCAllocator){.alloc = pb_alloc_noting, .free = pb_free, .allocator_data = &(oom_flag)})
static char *wr(const char *s) {
  return (char *)nz(s);
} /* protobuf-c wants char * */

/* ---- payload validation and view mapping ------------------------------------------- */

static int audio_view(const Message__AvatarAudio *a, holder *h, ak_audio_payload *v) {
  if (a->magic != AK_AUDIO_MAGIC) return AK_EPROTO;
  if (a->version > AK_PAYLOAD_VERSION_MAX) return AK_EVERSION;
  if (a->version == 0) return AK_EPROTO;
  switch (a->sample_rate) {
    case 8000:
    case 12000:
    case 16000:
    case 24000:
    case 48000:
      break;
    default:
      return AK_EPROTO;
  }
  if (a->channels < 1 || a->channels > 2) return AK_EPROTO;
  if (a->frame_samples == 0 || a->frame_samples > a->sample_rate / 10 * 12) return AK_EPROTO;
  if (a->n_packets > AK_MAX_PAYLOAD_PACKETS) return AK_EPROTO;
  if (a->n_packets) {
    h->pkts = ak__calloc(a->n_packets, sizeof *h->pkts);
    h->pkt_lens = ak__calloc(a->n_packets, sizeof *h->pkt_lens);
    if (!h->pkts || !h->pkt_lens) return AK_ENOMEM;
    for (size_t i = 0; i < a->n_packets; i++) {
      if (a->packets[i].len == 0 || a->packets[i].len > 1275) return AK_EPROTO; /* RFC 6716 */
      h->pkts[i] = a->packets[i].data;
      h->pkt_lens[i] = a->packets[i].len;
    }
  }
  *v = (ak_audio_payload){.sample_rate = a->sample_rate,
                          .channels = a->channels,
                          .frame_samples = a->frame_samples,
                          .pre_skip = a->pre_skip,
                          .first_packet = a->first_packet,
                          .total_samples = a->total_samples,
                          .n_packets = a->n_packets,
                          .packets = h->pkts,
                          .packet_lens = h->pkt_lens,
                          .end = a->end ? 1 : 0};
  return AK_OK;
}

static int motion_view(const Message__AvatarMotion *m, ak_motion_payload *v) {
  if (m->magic != AK_MOTION_MAGIC) return AK_EPROTO;
  if (m->version > AK_PAYLOAD_VERSION_MAX) return AK_EVERSION;
  if (m->version == 0) return AK_EPROTO;
  if (m->fps < 1 || m->fps > 240) return AK_EPROTO;
  if (m->frame_count > AK_MAX_PAYLOAD_FRAMES) return AK_EPROTO;
  if (m->channel_mask >> AK_BLENDSHAPE_COUNT) return AK_EPROTO;
  size_t ch = (size_t)__builtin_popcountll(m->channel_mask);
  if (m->weights.len != (size_t)m->frame_count * ch) return AK_EPROTO;
  if (m->head.len != (size_t)m->frame_count * 6) return AK_EPROTO;
  if (m->visemes.len != 0 && m->visemes.len != m->frame_count) return AK_EPROTO;
  *v = (ak_motion_payload){.fps = m->fps,
                           .first_frame = m->first_frame,
                           .frame_count = m->frame_count,
                           .channel_mask = m->channel_mask,
                           .weights = m->weights.data,
                           .weights_len = m->weights.len,
                           .head = m->head.data,
                           .head_len = m->head.len,
                           .visemes = m->visemes.data,
                           .visemes_len = m->visemes.len,
                           .end = m->end ? 1 : 0};
  return AK_OK;
}

static int fill_audio_pb(const ak_audio_payload *p, Message__AvatarAudio *a,
                         ProtobufCBinaryData *bins) {
  message__avatar_audio__init(a);
  if (p->n_packets > AK_MAX_PAYLOAD_PACKETS) return AK_EINVAL;
  if (p->n_packets && (!p->packets || !p->packet_lens)) return AK_EINVAL;
  a->magic = AK_AUDIO_MAGIC;
  a->version = AK_PAYLOAD_VERSION;
  a->sample_rate = p->sample_rate;
  a->channels = p->channels ? p->channels : 1;
  a->frame_samples = p->frame_samples;
  a->pre_skip = p->pre_skip;
  a->first_packet = p->first_packet;
  a->total_samples = p->total_samples;
  a->end = p->end ? 1 : 0;
  for (size_t i = 0; i < p->n_packets; i++)
    bins[i] = (ProtobufCBinaryData){.len = p->packet_lens[i], .data = (uint8_t *)p->packets[i]};
  a->n_packets = p->n_packets;
  a->packets = bins;
  return AK_OK;
}

static int fill_motion_pb(const ak_motion_payload *p, Message__AvatarMotion *m) {
  message__avatar_motion__init(m);
  size_t ch = (size_t)__builtin_popcountll(p->channel_mask);
  if (p->frame_count > AK_MAX_PAYLOAD_FRAMES || (p->channel_mask >> AK_BLENDSHAPE_COUNT) ||
      p->weights_len != p->frame_count * ch || p->head_len != (size_t)p->frame_count * 6 ||
      (p->visemes_len && p->visemes_len != p->frame_count) || p->fps < 1 || p->fps > 240)
    return AK_EINVAL;
  m->magic = AK_MOTION_MAGIC;
  m->version = AK_PAYLOAD_VERSION;
  m->fps = p->fps;
  m->first_frame = p->first_frame;
  m->frame_count = p->frame_count;
  m->channel_mask = p->channel_mask;
  m->weights = (ProtobufCBinaryData){.len = p->weights_len, .data = (uint8_t *)p->weights};
  m->head = (ProtobufCBinaryData){.len = p->head_len, .data = (uint8_t *)p->head};
  m->visemes = (ProtobufCBinaryData){.len = p->visemes_len, .data = (uint8_t *)p->visemes};
  m->end = p->end ? 1 : 0;
  return AK_OK;
}

/* ---- pack ---------------------------------------------------------------------------- */

static int pack_pb(const ProtobufCMessage *pb, uint8_t **out, size_t *out_len) {
  size_t n = protobuf_c_message_get_packed_size(pb);
  uint8_t *buf = ak__malloc(n ? n : 1);
  if (!buf) return AK_ENOMEM;
  protobuf_c_message_pack(pb, buf);
  *out = buf;
  *out_len = n;
  return AK_OK;
}

/* The protobuf-c tree of one message view: every sub-message lives here, so the tree can be
 * sized and packed without copying the view's bytes. */
typedef struct pb_tree {
  Message__Message msg;
  Message__ClientConfigureSession cfg;
  Message__LiveKitEgressConfig lk;
  Message__AgoraEgressConfig ag;
  Message__ServerConfirmSession confirm;
  Message__ClientAudioInput ain;
  Message__ServerError err;
  Message__ServerResponseAnimation anim;
  Message__AvatarMotion mot;
  Message__AvatarAudio aud;
  Message__ClientInterrupt intr;
  Message__LiveKitEgressConfig__ExtraAttributesEntry *kv, **kvp;
  ProtobufCBinaryData *bins;
} pb_tree;

static void tree_free(pb_tree *t) {
  ak__free(t->kv);
  ak__free(t->kvp);
  ak__free(t->bins);
}

/* Builds the tree of m (views borrowed). On failure everything is already released. */
static int tree_build(const ak_message *m, pb_tree *t) {
  Message__Message *msg = &t->msg;
  t->kv = NULL;
  t->kvp = NULL;
  t->bins = NULL;
  message__message__init(msg);
  msg->type = (Message__MessageType)m->type;
  int rc = AK_OK;

  switch (m->data) {
    case AK_DATA_NONE:
      break;
    case AK_DATA_CONFIGURE: {
      const ak_configure *c = &m->u.configure;
      Message__ClientConfigureSession *cfg = &t->cfg;
      message__client_configure_session__init(cfg);
      cfg->sample_rate = c->sample_rate;
      cfg->bitrate = c->bitrate;
      cfg->audio_format = (Message__AudioFormat)c->audio_format;
      cfg->transport_compression = (Message__TransportCompression)c->transport_compression;
      cfg->egress_type = (Message__EgressType)c->egress_type;
      if (c->has_livekit) {
        const ak_livekit_egress *l = &c->livekit;
        Message__LiveKitEgressConfig *lk = &t->lk;
        message__live_kit_egress_config__init(lk);
        lk->url = wr(l->url);
        lk->api_key = wr(l->api_key);
        lk->api_secret = wr(l->api_secret);
        lk->room_name = wr(l->room_name);
        lk->publisher_id = wr(l->publisher_id);
        lk->api_token = wr(l->api_token);
        lk->idle_timeout = l->idle_timeout;
        if (l->n_extra_attributes) {
          if (l->n_extra_attributes > 256 || !l->extra_attributes) return AK_EINVAL;
          t->kv = ak__calloc(l->n_extra_attributes, sizeof *t->kv);
          t->kvp = ak__calloc(l->n_extra_attributes, sizeof *t->kvp);
          if (!t->kv || !t->kvp) {
            rc = AK_ENOMEM;
            goto fail;
          }
          for (size_t i = 0; i < l->n_extra_attributes; i++) {
            message__live_kit_egress_config__extra_attributes_entry__init(&t->kv[i]);
            t->kv[i].key = wr(l->extra_attributes[i].key);
            t->kv[i].value = wr(l->extra_attributes[i].value);
            t->kvp[i] = &t->kv[i];
          }
          lk->n_extra_attributes = l->n_extra_attributes;
          lk->extra_attributes = t->kvp;
        }
        cfg->livekit_egress = lk;
      }
      if (c->has_agora) {
        message__agora_egress_config__init(&t->ag);
        t->ag.channel_name = wr(c->agora.channel_name);
        t->ag.token = wr(c->agora.token);
        t->ag.publisher_id = wr(c->agora.publisher_id);
        t->ag.uid = c->agora.uid;
        cfg->agora_egress = &t->ag;
      }
      msg->data_case = MESSAGE__MESSAGE__DATA_CLIENT_CONFIGURE_SESSION;
      msg->client_configure_session = cfg;
      break;
    }
    case AK_DATA_CONFIRM:
      message__server_confirm_session__init(&t->confirm);
      t->confirm.connection_id = wr(m->u.confirm_connection_id);
      msg->data_case = MESSAGE__MESSAGE__DATA_SERVER_CONFIRM_SESSION;
      msg->server_confirm_session = &t->confirm;
      break;
    case AK_DATA_AUDIO_INPUT:
      message__client_audio_input__init(&t->ain);
      t->ain.req_id = wr(m->u.audio_input.req_id);
      t->ain.end = m->u.audio_input.end ? 1 : 0;
      if (m->u.audio_input.audio_len && !m->u.audio_input.audio) return AK_EINVAL;
      t->ain.audio = (ProtobufCBinaryData){.len = m->u.audio_input.audio_len,
                                           .data = (uint8_t *)m->u.audio_input.audio};
      msg->data_case = MESSAGE__MESSAGE__DATA_CLIENT_AUDIO_INPUT;
      msg->client_audio_input = &t->ain;
      break;
    case AK_DATA_ERROR:
      message__server_error__init(&t->err);
      t->err.connection_id = wr(m->u.error.connection_id);
      t->err.req_id = wr(m->u.error.req_id);
      t->err.code = m->u.error.code;
      t->err.message = wr(m->u.error.message);
      msg->data_case = MESSAGE__MESSAGE__DATA_SERVER_ERROR;
      msg->server_error = &t->err;
      break;
    case AK_DATA_ANIMATION: {
      const ak_animation *a = &m->u.animation;
      message__server_response_animation__init(&t->anim);
      t->anim.connection_id = wr(a->connection_id);
      t->anim.req_id = wr(a->req_id);
      t->anim.end = a->end ? 1 : 0;
      if (a->has_motion) {
        if ((rc = fill_motion_pb(&a->motion, &t->mot)) != AK_OK) goto fail;
        t->anim.motion = &t->mot;
      }
      if (a->has_audio) {
        t->bins = ak__calloc(a->audio.n_packets ? a->audio.n_packets : 1, sizeof *t->bins);
        if (!t->bins) {
          rc = AK_ENOMEM;
          goto fail;
        }
        if ((rc = fill_audio_pb(&a->audio, &t->aud, t->bins)) != AK_OK) goto fail;
        t->anim.audio = &t->aud;
      }
      msg->data_case = MESSAGE__MESSAGE__DATA_SERVER_RESPONSE_ANIMATION;
      msg->server_response_animation = &t->anim;
      break;
    }
    case AK_DATA_INTERRUPT:
      message__client_interrupt__init(&t->intr);
      t->intr.req_id = wr(m->u.interrupt_req_id);
      msg->data_case = MESSAGE__MESSAGE__DATA_CLIENT_INTERRUPT;
      msg->client_interrupt = &t->intr;
      break;
    default:
      return AK_EINVAL;
  }
  return AK_OK;
fail:
  tree_free(t);
  return rc;
}

int ak_message_pack(const ak_message *m, uint8_t **out, size_t *out_len) {
  if (!m || !out || !out_len) return AK_EINVAL;
  pb_tree t;
  int rc = tree_build(m, &t);
  if (rc != AK_OK) return rc;
  rc = pack_pb(&t.msg.base, out, out_len);
  tree_free(&t);
  return rc;
}

int ak_message_packed_size(const ak_message *m, size_t *out_len) {
  if (!m || !out_len) return AK_EINVAL;
  pb_tree t;
  int rc = tree_build(m, &t);
  if (rc != AK_OK) return rc;
  *out_len = protobuf_c_message_get_packed_size(&t.msg.base);
  tree_free(&t);
  return AK_OK;
}

int ak_message_pack_into(const ak_message *m, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!m || !out_len || (cap && !buf)) return AK_EINVAL;
  pb_tree t;
  int rc = tree_build(m, &t);
  if (rc != AK_OK) return rc;
  size_t n = protobuf_c_message_get_packed_size(&t.msg.base);
  if (n > cap) {
    rc = AK_ETOOBIG;
  } else {
    protobuf_c_message_pack(&t.msg.base, buf);
    *out_len = n;
  }
  tree_free(&t);
  return rc;
}

int ak_message_pack_to(const ak_message *m, ak_pack_dest_fn dest, void *user, size_t *out_len) {
  if (!m || !dest || !out_len) return AK_EINVAL;
  pb_tree t;
  int rc = tree_build(m, &t);
  if (rc != AK_OK) return rc;
  size_t n = protobuf_c_message_get_packed_size(&t.msg.base);
  uint8_t *buf = NULL;
  rc = dest(user, n, &buf);
  if (rc == AK_OK && !buf && n) rc = AK_ENOMEM;
  if (rc == AK_OK) {
    protobuf_c_message_pack(&t.msg.base, buf);
    *out_len = n;
  }
  tree_free(&t);
  return rc;
}

int ak_audio_payload_pack(const ak_audio_payload *p, uint8_t **out, size_t *out_len) {
  if (!p || !out || !out_len) return AK_EINVAL;
  Message__AvatarAudio a;
  ProtobufCBinaryData *bins = ak__calloc(p->n_packets ? p->n_packets : 1, sizeof *bins);
  if (!bins) return AK_ENOMEM;
  int rc = fill_audio_pb(p, &a, bins);
  if (rc == AK_OK) rc = pack_pb(&a.base, out, out_len);
  ak__free(bins);
  return rc;
}

int ak_motion_payload_pack(const ak_motion_payload *p, uint8_t **out, size_t *out_len) {
  if (!p || !out || !out_len) return AK_EINVAL;
  Message__AvatarMotion m;
  int rc = fill_motion_pb(p, &m);
  return rc == AK_OK ? pack_pb(&m.base, out, out_len) : rc;
}

/* ---- parse --------------------------------------------------------------------------- */

/* Field numbers of the length-delimited fields the span finder looks for
 * (protocol/avatarkit.proto). */
enum { F_MESSAGE_ANIMATION = 6, F_ANIMATION_MOTION = 100, F_ANIMATION_AUDIO = 101 };

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
  uint64_t x = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (*pos >= len) return -1;
    uint8_t b = p[(*pos)++];
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* Finds length-delimited field `field` among the top-level fields of [p, p + len), without
 * decoding anything else. Returns 1 (found exactly once: *off, *flen), 0 (absent), -1
 * (malformed framing, a group, or the field repeated: protobuf would merge the copies, so
 * no single span holds what a decoder sees). */
static int find_field(const uint8_t *p, size_t len, uint32_t field, size_t *off, size_t *flen) {
  size_t pos = 0;
  int found = 0;
  while (pos < len) {
    uint64_t tag, v;
    if (read_varint(p, len, &pos, &tag) != 0 || (tag >> 3) == 0) return -1;
    switch (tag & 7) {
      case 0:
        if (read_varint(p, len, &pos, &v) != 0) return -1;
        break;
      case 1:
        if (len - pos < 8) return -1;
        pos += 8;
        break;
      case 5:
        if (len - pos < 4) return -1;
        pos += 4;
        break;
      case 2:
        if (read_varint(p, len, &pos, &v) != 0 || v > len - pos) return -1;
        if ((tag >> 3) == field) {
          if (found) return -1;
          found = 1;
          *off = pos;
          *flen = (size_t)v;
        }
        pos += (size_t)v;
        break;
      default:
        return -1;
    }
  }
  return found;
}

int ak_animation_payload_spans(const uint8_t *buf, size_t len, ak_span *motion, ak_span *audio) {
  if ((!buf && len) || !motion || !audio) return AK_EINVAL;
  size_t aoff = 0, alen = 0;
  ak_span m = {0, 0, 0}, a = {0, 0, 0};
  int r = find_field(buf, len, F_MESSAGE_ANIMATION, &aoff, &alen);
  if (r < 0) return AK_EPROTO;
  if (r > 0) {
    const uint8_t *anim = buf + aoff;
    int rm = find_field(anim, alen, F_ANIMATION_MOTION, &m.off, &m.len);
    int ra = find_field(anim, alen, F_ANIMATION_AUDIO, &a.off, &a.len);
    if (rm < 0 || ra < 0) return AK_EPROTO;
    m.present = rm;
    a.present = ra;
    if (rm) m.off += aoff;
    if (ra) a.off += aoff;
  }
  *motion = m;
  *audio = a;
  return AK_OK;
}

void ak_message_free(ak_message *m) {
  if (!m) return;
  holder *h = (holder *)m;
  if (h->pb) message__message__free_unpacked(h->pb, &k_pb_alloc);
  if (h->pb_audio) message__avatar_audio__free_unpacked(h->pb_audio, &k_pb_alloc);
  if (h->pb_motion) message__avatar_motion__free_unpacked(h->pb_motion, &k_pb_alloc);
  ak__free(h->pkts);
  ak__free(h->pkt_lens);
  ak__free(h->kvs);
  ak__free(h->audio_bytes);
  ak__free(h->motion_bytes);
  ak__free(h);
}

static int map_message(holder *h) {
  Message__Message *pb = h->pb;
  ak_message *m = &h->pub;
  m->type = (ak_msg_type)pb->type;
  m->data = (ak_msg_data)pb->data_case;
  switch (pb->data_case) {
    case MESSAGE__MESSAGE__DATA__NOT_SET:
      m->data = AK_DATA_NONE;
      return AK_OK;
    case MESSAGE__MESSAGE__DATA_CLIENT_CONFIGURE_SESSION: {
      const Message__ClientConfigureSession *c = pb->client_configure_session;
      ak_configure *v = &m->u.configure;
      v->sample_rate = c->sample_rate;
      v->bitrate = c->bitrate;
      v->audio_format = (int)c->audio_format;
      v->transport_compression = (int)c->transport_compression;
      v->egress_type = (int)c->egress_type;
      if (c->livekit_egress) {
        const Message__LiveKitEgressConfig *l = c->livekit_egress;
        v->has_livekit = 1;
        v->livekit = (ak_livekit_egress){.url = nz(l->url),
                                         .api_key = nz(l->api_key),
                                         .api_secret = nz(l->api_secret),
                                         .room_name = nz(l->room_name),
                                         .publisher_id = nz(l->publisher_id),
                                         .api_token = nz(l->api_token),
                                         .idle_timeout = l->idle_timeout};
        if (l->n_extra_attributes) {
          h->kvs = ak__calloc(l->n_extra_attributes, sizeof *h->kvs);
          if (!h->kvs) return AK_ENOMEM;
          for (size_t i = 0; i < l->n_extra_attributes; i++)
            h->kvs[i] = (ak_kv){nz(l->extra_attributes[i]->key), nz(l->extra_attributes[i]->value)};
          v->livekit.extra_attributes = h->kvs;
          v->livekit.n_extra_attributes = l->n_extra_attributes;
        }
      }
      if (c->agora_egress) {
        const Message__AgoraEgressConfig *a = c->agora_egress;
        v->has_agora = 1;
        v->agora = (ak_agora_egress){.channel_name = nz(a->channel_name),
                                     .token = nz(a->token),
                                     .publisher_id = nz(a->publisher_id),
                                     .uid = a->uid};
      }
      return AK_OK;
    }
    case MESSAGE__MESSAGE__DATA_SERVER_CONFIRM_SESSION:
      m->u.confirm_connection_id = nz(pb->server_confirm_session->connection_id);
      return AK_OK;
    case MESSAGE__MESSAGE__DATA_CLIENT_AUDIO_INPUT: {
      const Message__ClientAudioInput *a = pb->client_audio_input;
      m->u.audio_input = (ak_audio_input){.req_id = nz(a->req_id),
                                          .end = a->end ? 1 : 0,
                                          .audio = a->audio.data,
                                          .audio_len = a->audio.len};
      return AK_OK;
    }
    case MESSAGE__MESSAGE__DATA_SERVER_ERROR: {
      const Message__ServerError *e = pb->server_error;
      m->u.error = (ak_server_error){.connection_id = nz(e->connection_id),
                                     .req_id = nz(e->req_id),
                                     .code = e->code,
                                     .message = nz(e->message)};
      return AK_OK;
    }
    case MESSAGE__MESSAGE__DATA_SERVER_RESPONSE_ANIMATION: {
      const Message__ServerResponseAnimation *a = pb->server_response_animation;
      ak_animation *v = &m->u.animation;
      v->connection_id = nz(a->connection_id);
      v->req_id = nz(a->req_id);
      v->end = a->end ? 1 : 0;
      /* The relayable payload bytes are the received ones, not a re-serialization: spans into
       * the parsed buffer. Only when protobuf merged repeated copies (no single span) are they
       * packed again from the decoded tree. */
      ak_span ms, as;
      int spans = ak_animation_payload_spans(h->src, h->src_len, &ms, &as) == AK_OK &&
                  ms.present == (a->motion != NULL) && as.present == (a->audio != NULL);
      int rc;
      if (a->motion) {
        if ((rc = motion_view(a->motion, &v->motion)) != AK_OK) return rc;
        if (spans) {
          v->motion_bytes = h->src + ms.off;
          v->motion_bytes_len = ms.len;
        } else {
          if ((rc = pack_pb(&a->motion->base, &h->motion_bytes, &v->motion_bytes_len)) != AK_OK)
            return rc;
          v->motion_bytes = h->motion_bytes;
        }
        v->has_motion = 1;
      }
      if (a->audio) {
        if ((rc = audio_view(a->audio, h, &v->audio)) != AK_OK) return rc;
        if (spans) {
          v->audio_bytes = h->src + as.off;
          v->audio_bytes_len = as.len;
        } else {
          if ((rc = pack_pb(&a->audio->base, &h->audio_bytes, &v->audio_bytes_len)) != AK_OK)
            return rc;
          v->audio_bytes = h->audio_bytes;
        }
        v->has_audio = 1;
      }
      return AK_OK;
    }
    case MESSAGE__MESSAGE__DATA_CLIENT_INTERRUPT:
      m->u.interrupt_req_id = nz(pb->client_interrupt->req_id);
      return AK_OK;
    default:
      return AK_EPROTO;
  }
}

int ak_message_parse(const uint8_t *buf, size_t len, ak_message **out) {
  if (!out || (!buf && len)) return AK_EINVAL;
  if (len > AK_MAX_PARSE_BYTES) return AK_ETOOBIG;
  holder *h = ak__calloc(1, sizeof *h);
  if (!h) return AK_ENOMEM;
  h->src = buf ? buf : (const uint8_t *)"";
  h->src_len = len;
  int oom = 0;
  ProtobufCAllocator al = PB_UNPACK_ALLOC(oom);
  h->pb = message__message__unpack(&al, len, h->src);
  if (!h->pb) {
    ak__free(h);
    return oom ? AK_ENOMEM : AK_EPROTO;
  }
  int rc = map_message(h);
  if (rc != AK_OK) {
    ak_message_free(&h->pub);
    return rc;
  }
  *out = &h->pub;
  return AK_OK;
}

int ak_audio_payload_parse(const uint8_t *buf, size_t len, ak_audio_payload *view,
                           ak_message **holder_out) {
  if (!view || !holder_out || (!buf && len)) return AK_EINVAL;
  if (len > AK_MAX_MESSAGE_BYTES) return AK_ETOOBIG;
  holder *h = ak__calloc(1, sizeof *h);
  if (!h) return AK_ENOMEM;
  int oom = 0;
  ProtobufCAllocator al = PB_UNPACK_ALLOC(oom);
  h->pb_audio = message__avatar_audio__unpack(&al, len, buf ? buf : (const uint8_t *)"");
  ak_audio_payload v;
  int rc = h->pb_audio ? audio_view(h->pb_audio, h, &v) : oom ? AK_ENOMEM : AK_EPROTO;
  if (rc != AK_OK) {
    ak_message_free(&h->pub);
    return rc;
  }
  *view = v;
  *holder_out = &h->pub;
  return AK_OK;
}

int ak_motion_payload_parse(const uint8_t *buf, size_t len, ak_motion_payload *view,
                            ak_message **holder_out) {
  if (!view || !holder_out || (!buf && len)) return AK_EINVAL;
  if (len > AK_MAX_MESSAGE_BYTES) return AK_ETOOBIG;
  holder *h = ak__calloc(1, sizeof *h);
  if (!h) return AK_ENOMEM;
  int oom = 0;
  ProtobufCAllocator al = PB_UNPACK_ALLOC(oom);
  h->pb_motion = message__avatar_motion__unpack(&al, len, buf ? buf : (const uint8_t *)"");
  ak_motion_payload v;
  int rc = h->pb_motion ? motion_view(h->pb_motion, &v) : oom ? AK_ENOMEM : AK_EPROTO;
  if (rc != AK_OK) {
    ak_message_free(&h->pub);
    return rc;
  }
  *view = v;
  *holder_out = &h->pub;
  return AK_OK;
}
