// The part of the onnxruntime C API that ganfx's native plugin uses, declared by the project
// from the onnxruntime C API documentation (OrtApiBase, OrtApi).
//
// OrtApi is a table of function pointers that onnxruntime only ever appends to: entry k of a
// version stays entry k in every later version. So the table is declared here up to the last
// entry the plugin calls (AddSessionConfigEntry, entry 130, part of API version 5), every entry
// in its place; entries the plugin never calls are placeholders named after the real ones, so
// the order can be read against the documentation. The plugin asks for that version with
// OrtGetApiBase()->GetApi(GANFX_ORT_API_VERSION); any onnxruntime from 1.5 on serves it (the
// bundle ships the one from the `onnxruntime` wheel it was built with). The static_asserts pin
// the offsets onnxruntime itself guarantees at the end of versions 1 to 4.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GANFX_ORT_API_VERSION 5u

typedef struct OrtStatus OrtStatus;  // NULL means success
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtRunOptions OrtRunOptions;
typedef struct OrtValue OrtValue;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtTypeInfo OrtTypeInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtModelMetadata OrtModelMetadata;
typedef struct OrtAllocator OrtAllocator;  // only ever used through the API's functions

typedef enum OrtErrorCode {
  ORT_OK = 0,
  ORT_FAIL = 1,
  ORT_INVALID_ARGUMENT = 2,
  ORT_NO_SUCHFILE = 3,
  ORT_NO_MODEL = 4,
  ORT_ENGINE_ERROR = 5,
  ORT_RUNTIME_EXCEPTION = 6,
  ORT_INVALID_PROTOBUF = 7,
  ORT_MODEL_LOADED = 8,
  ORT_NOT_IMPLEMENTED = 9,
  ORT_INVALID_GRAPH = 10,
  ORT_EP_FAIL = 11,
} OrtErrorCode;

typedef enum OrtLoggingLevel {
  ORT_LOGGING_LEVEL_VERBOSE = 0,
  ORT_LOGGING_LEVEL_INFO = 1,
  ORT_LOGGING_LEVEL_WARNING = 2,
  ORT_LOGGING_LEVEL_ERROR = 3,
  ORT_LOGGING_LEVEL_FATAL = 4,
} OrtLoggingLevel;

typedef enum ONNXTensorElementDataType {
  ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED = 0,
  ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT = 1,
  ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 = 10,
} ONNXTensorElementDataType;

typedef enum GraphOptimizationLevel {
  ORT_DISABLE_ALL = 0,
  ORT_ENABLE_BASIC = 1,
  ORT_ENABLE_EXTENDED = 2,
  ORT_ENABLE_ALL = 99,
} GraphOptimizationLevel;

typedef enum OrtAllocatorType { OrtDeviceAllocator = 0, OrtArenaAllocator = 1 } OrtAllocatorType;
typedef enum OrtMemType { OrtMemTypeDefault = 0 } OrtMemType;

typedef void (*OrtUnusedEntry)(void);  // an entry the plugin never calls: only its place matters
#define GANFX_ORT_UNUSED(name) OrtUnusedEntry name

typedef struct OrtApi {
  // status
  OrtStatus* (*CreateStatus)(OrtErrorCode code, const char* message);                        // 0
  OrtErrorCode (*GetErrorCode)(const OrtStatus* status);                                     // 1
  const char* (*GetErrorMessage)(const OrtStatus* status);                                   // 2
  // environment and sessions
  OrtStatus* (*CreateEnv)(OrtLoggingLevel level, const char* log_id, OrtEnv** out);          // 3
  GANFX_ORT_UNUSED(CreateEnvWithCustomLogger);                                               // 4
  GANFX_ORT_UNUSED(EnableTelemetryEvents);                                                   // 5
  GANFX_ORT_UNUSED(DisableTelemetryEvents);                                                  // 6
  OrtStatus* (*CreateSession)(const OrtEnv* env, const char* model_path, const OrtSessionOptions* options,
                              OrtSession** out);                                             // 7
  GANFX_ORT_UNUSED(CreateSessionFromArray);                                                  // 8
  OrtStatus* (*Run)(OrtSession* session, const OrtRunOptions* run_options, const char* const* input_names,
                    const OrtValue* const* inputs, size_t input_count, const char* const* output_names,
                    size_t output_count, OrtValue** outputs);                                // 9
  // session options
  OrtStatus* (*CreateSessionOptions)(OrtSessionOptions** out);                               // 10
  GANFX_ORT_UNUSED(SetOptimizedModelFilePath);                                               // 11
  GANFX_ORT_UNUSED(CloneSessionOptions);                                                     // 12
  GANFX_ORT_UNUSED(SetSessionExecutionMode);                                                 // 13
  GANFX_ORT_UNUSED(EnableProfiling);                                                         // 14
  GANFX_ORT_UNUSED(DisableProfiling);                                                        // 15
  GANFX_ORT_UNUSED(EnableMemPattern);                                                        // 16
  GANFX_ORT_UNUSED(DisableMemPattern);                                                       // 17
  GANFX_ORT_UNUSED(EnableCpuMemArena);                                                       // 18
  GANFX_ORT_UNUSED(DisableCpuMemArena);                                                      // 19
  GANFX_ORT_UNUSED(SetSessionLogId);                                                         // 20
  GANFX_ORT_UNUSED(SetSessionLogVerbosityLevel);                                             // 21
  OrtStatus* (*SetSessionLogSeverityLevel)(OrtSessionOptions* options, int level);           // 22
  OrtStatus* (*SetSessionGraphOptimizationLevel)(OrtSessionOptions* options, GraphOptimizationLevel level);  // 23
  OrtStatus* (*SetIntraOpNumThreads)(OrtSessionOptions* options, int threads);               // 24
  OrtStatus* (*SetInterOpNumThreads)(OrtSessionOptions* options, int threads);               // 25
  GANFX_ORT_UNUSED(CreateCustomOpDomain);                                                    // 26
  GANFX_ORT_UNUSED(CustomOpDomain_Add);                                                      // 27
  GANFX_ORT_UNUSED(AddCustomOpDomain);                                                       // 28
  GANFX_ORT_UNUSED(RegisterCustomOpsLibrary);                                                // 29
  // session inputs and outputs
  OrtStatus* (*SessionGetInputCount)(const OrtSession* session, size_t* out);                // 30
  OrtStatus* (*SessionGetOutputCount)(const OrtSession* session, size_t* out);               // 31
  GANFX_ORT_UNUSED(SessionGetOverridableInitializerCount);                                   // 32
  OrtStatus* (*SessionGetInputTypeInfo)(const OrtSession* session, size_t index, OrtTypeInfo** out);   // 33
  OrtStatus* (*SessionGetOutputTypeInfo)(const OrtSession* session, size_t index, OrtTypeInfo** out);  // 34
  GANFX_ORT_UNUSED(SessionGetOverridableInitializerTypeInfo);                                // 35
  OrtStatus* (*SessionGetInputName)(const OrtSession* session, size_t index, OrtAllocator* allocator,
                                    char** out);                                             // 36
  OrtStatus* (*SessionGetOutputName)(const OrtSession* session, size_t index, OrtAllocator* allocator,
                                     char** out);                                            // 37
  GANFX_ORT_UNUSED(SessionGetOverridableInitializerName);                                    // 38
  // run options
  GANFX_ORT_UNUSED(CreateRunOptions);                                                        // 39
  GANFX_ORT_UNUSED(RunOptionsSetRunLogVerbosityLevel);                                       // 40
  GANFX_ORT_UNUSED(RunOptionsSetRunLogSeverityLevel);                                        // 41
  GANFX_ORT_UNUSED(RunOptionsSetRunTag);                                                     // 42
  GANFX_ORT_UNUSED(RunOptionsGetRunLogVerbosityLevel);                                       // 43
  GANFX_ORT_UNUSED(RunOptionsGetRunLogSeverityLevel);                                        // 44
  GANFX_ORT_UNUSED(RunOptionsGetRunTag);                                                     // 45
  GANFX_ORT_UNUSED(RunOptionsSetTerminate);                                                  // 46
  GANFX_ORT_UNUSED(RunOptionsUnsetTerminate);                                                // 47
  // tensors
  GANFX_ORT_UNUSED(CreateTensorAsOrtValue);                                                  // 48
  OrtStatus* (*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo* info, void* data, size_t bytes,
                                               const int64_t* shape, size_t rank, ONNXTensorElementDataType type,
                                               OrtValue** out);                              // 49
  GANFX_ORT_UNUSED(IsTensor);                                                                // 50
  OrtStatus* (*GetTensorMutableData)(OrtValue* value, void** out);                           // 51
  GANFX_ORT_UNUSED(FillStringTensor);                                                        // 52
  GANFX_ORT_UNUSED(GetStringTensorDataLength);                                               // 53
  GANFX_ORT_UNUSED(GetStringTensorContent);                                                  // 54
  OrtStatus* (*CastTypeInfoToTensorInfo)(const OrtTypeInfo* info, const OrtTensorTypeAndShapeInfo** out);  // 55
  GANFX_ORT_UNUSED(GetOnnxTypeFromTypeInfo);                                                 // 56
  GANFX_ORT_UNUSED(CreateTensorTypeAndShapeInfo);                                            // 57
  GANFX_ORT_UNUSED(SetTensorElementType);                                                    // 58
  GANFX_ORT_UNUSED(SetDimensions);                                                           // 59
  OrtStatus* (*GetTensorElementType)(const OrtTensorTypeAndShapeInfo* info, ONNXTensorElementDataType* out);  // 60
  OrtStatus* (*GetDimensionsCount)(const OrtTensorTypeAndShapeInfo* info, size_t* out);      // 61
  OrtStatus* (*GetDimensions)(const OrtTensorTypeAndShapeInfo* info, int64_t* dims, size_t count);  // 62
  GANFX_ORT_UNUSED(GetSymbolicDimensions);                                                   // 63
  GANFX_ORT_UNUSED(GetTensorShapeElementCount);                                              // 64
  OrtStatus* (*GetTensorTypeAndShape)(const OrtValue* value, OrtTensorTypeAndShapeInfo** out);  // 65
  GANFX_ORT_UNUSED(GetTypeInfo);                                                             // 66
  GANFX_ORT_UNUSED(GetValueType);                                                            // 67
  // memory
  GANFX_ORT_UNUSED(CreateMemoryInfo);                                                        // 68
  OrtStatus* (*CreateCpuMemoryInfo)(OrtAllocatorType type, OrtMemType mem_type, OrtMemoryInfo** out);  // 69
  GANFX_ORT_UNUSED(CompareMemoryInfo);                                                       // 70
  GANFX_ORT_UNUSED(MemoryInfoGetName);                                                       // 71
  GANFX_ORT_UNUSED(MemoryInfoGetId);                                                         // 72
  GANFX_ORT_UNUSED(MemoryInfoGetMemType);                                                    // 73
  GANFX_ORT_UNUSED(MemoryInfoGetType);                                                       // 74
  GANFX_ORT_UNUSED(AllocatorAlloc);                                                          // 75
  OrtStatus* (*AllocatorFree)(OrtAllocator* allocator, void* pointer);                       // 76
  GANFX_ORT_UNUSED(AllocatorGetInfo);                                                        // 77
  OrtStatus* (*GetAllocatorWithDefaultOptions)(OrtAllocator** out);                          // 78
  GANFX_ORT_UNUSED(AddFreeDimensionOverride);                                                // 79
  GANFX_ORT_UNUSED(GetValue);                                                                // 80
  GANFX_ORT_UNUSED(GetValueCount);                                                           // 81
  GANFX_ORT_UNUSED(CreateValue);                                                             // 82
  GANFX_ORT_UNUSED(CreateOpaqueValue);                                                       // 83
  GANFX_ORT_UNUSED(GetOpaqueValue);                                                          // 84
  // custom-op kernels
  GANFX_ORT_UNUSED(KernelInfoGetAttribute_float);                                            // 85
  GANFX_ORT_UNUSED(KernelInfoGetAttribute_int64);                                            // 86
  GANFX_ORT_UNUSED(KernelInfoGetAttribute_string);                                           // 87
  GANFX_ORT_UNUSED(KernelContext_GetInputCount);                                             // 88
  GANFX_ORT_UNUSED(KernelContext_GetOutputCount);                                            // 89
  GANFX_ORT_UNUSED(KernelContext_GetInput);                                                  // 90
  GANFX_ORT_UNUSED(KernelContext_GetOutput);                                                 // 91
  // releasing objects
  void (*ReleaseEnv)(OrtEnv* object);                                                        // 92
  void (*ReleaseStatus)(OrtStatus* object);                                                  // 93
  void (*ReleaseMemoryInfo)(OrtMemoryInfo* object);                                          // 94
  void (*ReleaseSession)(OrtSession* object);                                                // 95
  void (*ReleaseValue)(OrtValue* object);                                                    // 96
  GANFX_ORT_UNUSED(ReleaseRunOptions);                                                       // 97
  void (*ReleaseTypeInfo)(OrtTypeInfo* object);                                              // 98
  void (*ReleaseTensorTypeAndShapeInfo)(OrtTensorTypeAndShapeInfo* object);                  // 99
  void (*ReleaseSessionOptions)(OrtSessionOptions* object);                                  // 100
  GANFX_ORT_UNUSED(ReleaseCustomOpDomain);                                                   // 101: end of version 1
  GANFX_ORT_UNUSED(GetDenotationFromTypeInfo);                                               // 102
  GANFX_ORT_UNUSED(CastTypeInfoToMapTypeInfo);                                               // 103
  GANFX_ORT_UNUSED(CastTypeInfoToSequenceTypeInfo);                                          // 104
  GANFX_ORT_UNUSED(GetMapKeyType);                                                           // 105
  GANFX_ORT_UNUSED(GetMapValueType);                                                         // 106
  GANFX_ORT_UNUSED(GetSequenceElementType);                                                  // 107
  GANFX_ORT_UNUSED(ReleaseMapTypeInfo);                                                      // 108
  GANFX_ORT_UNUSED(ReleaseSequenceTypeInfo);                                                 // 109
  GANFX_ORT_UNUSED(SessionEndProfiling);                                                     // 110
  // model metadata (where the ganfx contract lives: metadata_props = the custom metadata map)
  OrtStatus* (*SessionGetModelMetadata)(const OrtSession* session, OrtModelMetadata** out);  // 111
  GANFX_ORT_UNUSED(ModelMetadataGetProducerName);                                            // 112
  GANFX_ORT_UNUSED(ModelMetadataGetGraphName);                                               // 113
  GANFX_ORT_UNUSED(ModelMetadataGetDomain);                                                  // 114
  GANFX_ORT_UNUSED(ModelMetadataGetDescription);                                             // 115
  OrtStatus* (*ModelMetadataLookupCustomMetadataMap)(const OrtModelMetadata* metadata, OrtAllocator* allocator,
                                                     const char* key, char** value);         // 116
  GANFX_ORT_UNUSED(ModelMetadataGetVersion);                                                 // 117
  void (*ReleaseModelMetadata)(OrtModelMetadata* object);                                    // 118: end of version 2
  GANFX_ORT_UNUSED(CreateEnvWithGlobalThreadPools);                                          // 119
  GANFX_ORT_UNUSED(DisablePerSessionThreads);                                                // 120
  GANFX_ORT_UNUSED(CreateThreadingOptions);                                                  // 121
  GANFX_ORT_UNUSED(ReleaseThreadingOptions);                                                 // 122
  OrtStatus* (*ModelMetadataGetCustomMetadataMapKeys)(const OrtModelMetadata* metadata, OrtAllocator* allocator,
                                                      char*** keys, int64_t* count);         // 123
  GANFX_ORT_UNUSED(AddFreeDimensionOverrideByName);                                          // 124: end of version 3
  GANFX_ORT_UNUSED(GetAvailableProviders);                                                   // 125
  GANFX_ORT_UNUSED(ReleaseAvailableProviders);                                               // 126: end of version 4
  GANFX_ORT_UNUSED(GetStringTensorElementLength);                                            // 127
  GANFX_ORT_UNUSED(GetStringTensorElement);                                                  // 128
  GANFX_ORT_UNUSED(FillStringTensorElement);                                                 // 129
  OrtStatus* (*AddSessionConfigEntry)(OrtSessionOptions* options, const char* key, const char* value);  // 130
} OrtApi;

typedef struct OrtApiBase {
  const OrtApi* (*GetApi)(uint32_t version);  // NULL when this onnxruntime does not offer `version`
  const char* (*GetVersionString)(void);
} OrtApiBase;

typedef const OrtApiBase* (*OrtGetApiBaseFunction)(void);  // the one symbol looked up in the library
#define GANFX_ORT_ENTRY_SYMBOL "OrtGetApiBase"

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
#define GANFX_ORT_SLOT(name) (offsetof(OrtApi, name) / sizeof(void*))
static_assert(GANFX_ORT_SLOT(Run) == 9, "OrtApi: Run is entry 9");
static_assert(GANFX_ORT_SLOT(SessionGetInputName) == 36, "OrtApi: SessionGetInputName is entry 36");
static_assert(GANFX_ORT_SLOT(GetTensorTypeAndShape) == 65, "OrtApi: GetTensorTypeAndShape is entry 65");
static_assert(GANFX_ORT_SLOT(GetAllocatorWithDefaultOptions) == 78, "OrtApi: entry 78");
static_assert(GANFX_ORT_SLOT(ReleaseEnv) == 92, "OrtApi: ReleaseEnv is entry 92");
static_assert(GANFX_ORT_SLOT(ReleaseCustomOpDomain) == 101, "OrtApi: version 1 ends at entry 101");
static_assert(GANFX_ORT_SLOT(ReleaseModelMetadata) == 118, "OrtApi: version 2 ends at entry 118");
static_assert(GANFX_ORT_SLOT(AddFreeDimensionOverrideByName) == 124, "OrtApi: version 3 ends at entry 124");
static_assert(GANFX_ORT_SLOT(ReleaseAvailableProviders) == 126, "OrtApi: version 4 ends at entry 126");
static_assert(GANFX_ORT_SLOT(AddSessionConfigEntry) == 130, "OrtApi: AddSessionConfigEntry is entry 130");
#endif
