/* raft without lz4: the entry points of lz4's frame API that Debian's libraft.a references
 * (src/compress.c: snapshot compression), each failing with an error. Linked instead of liblz4.a,
 * whose compressors would add ~114 KB to fox for nothing: fox's sync snapshots are a few KB, and
 * fox turns raft's snapshot compression off (raft_uv_set_snapshot_compression(io, false)), so
 * raft never compresses, and decompresses only a snapshot it finds compressed — which fox never
 * wrote; such a file makes raft's load fail with this error instead. Signatures come from
 * lz4frame.h (liblz4-dev), so they cannot drift. */
#include <lz4frame.h>

#define FOX_LZ4_OFF ((size_t)-1) /* an error code: LZ4F_isError() says so */

unsigned LZ4F_isError(LZ4F_errorCode_t code) { return code > (size_t)-64; }

const char* LZ4F_getErrorName(LZ4F_errorCode_t code) {
  (void)code;
  return "lz4 is not linked into fox (raft snapshot compression is off)";
}

LZ4F_errorCode_t LZ4F_createCompressionContext(LZ4F_cctx** ctx, unsigned version) {
  (void)version;
  *ctx = 0;
  return FOX_LZ4_OFF;
}

LZ4F_errorCode_t LZ4F_freeCompressionContext(LZ4F_cctx* ctx) {
  (void)ctx;
  return 0;
}

size_t LZ4F_compressBound(size_t size, const LZ4F_preferences_t* prefs) {
  (void)size;
  (void)prefs;
  return 0;
}

size_t LZ4F_compressBegin(LZ4F_cctx* ctx, void* dst, size_t cap, const LZ4F_preferences_t* prefs) {
  (void)ctx, (void)dst, (void)cap, (void)prefs;
  return FOX_LZ4_OFF;
}

size_t LZ4F_compressUpdate(LZ4F_cctx* ctx, void* dst, size_t cap, const void* src, size_t size,
                           const LZ4F_compressOptions_t* opts) {
  (void)ctx, (void)dst, (void)cap, (void)src, (void)size, (void)opts;
  return FOX_LZ4_OFF;
}

size_t LZ4F_compressEnd(LZ4F_cctx* ctx, void* dst, size_t cap, const LZ4F_compressOptions_t* opts) {
  (void)ctx, (void)dst, (void)cap, (void)opts;
  return FOX_LZ4_OFF;
}

LZ4F_errorCode_t LZ4F_createDecompressionContext(LZ4F_dctx** ctx, unsigned version) {
  (void)version;
  *ctx = 0;
  return FOX_LZ4_OFF;
}

LZ4F_errorCode_t LZ4F_freeDecompressionContext(LZ4F_dctx* ctx) {
  (void)ctx;
  return 0;
}

size_t LZ4F_getFrameInfo(LZ4F_dctx* ctx, LZ4F_frameInfo_t* info, const void* src, size_t* size) {
  (void)ctx, (void)info, (void)src, (void)size;
  return FOX_LZ4_OFF;
}

size_t LZ4F_decompress(LZ4F_dctx* ctx, void* dst, size_t* dst_size, const void* src,
                       size_t* src_size, const LZ4F_decompressOptions_t* opts) {
  (void)ctx, (void)dst, (void)dst_size, (void)src, (void)src_size, (void)opts;
  return FOX_LZ4_OFF;
}
