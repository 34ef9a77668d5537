// The part of the OpenFX C API (image effect API, version 1.4/1.5) that ganfx's native plugin
// uses, declared by the project from the published OpenFX specification: the bootstrap structs,
// the property, image effect, parameter and message suites, and the names (actions, properties,
// values) the plugin reads or writes. Only what the plugin needs is here; the layout of every
// struct of function pointers follows the specification's order, which is the ABI.
//
// Coordinates: OpenFX puts the origin at the bottom-left of an image; rows go up in y. Image
// rectangles are x1 <= x < x2, y1 <= y < y2. Canonical coordinates are pixels at render scale 1
// times the pixel aspect ratio in x; pixel coordinates are canonical times the render scale.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- core -------------------------------------------------------------------------------
typedef int OfxStatus;
typedef double OfxTime;
typedef struct OfxPropertySetStruct* OfxPropertySetHandle;
typedef struct OfxImageEffectStruct* OfxImageEffectHandle;
typedef struct OfxImageClipStruct* OfxImageClipHandle;
typedef struct OfxImageMemoryStruct* OfxImageMemoryHandle;
typedef struct OfxParamStruct* OfxParamHandle;
typedef struct OfxParamSetStruct* OfxParamSetHandle;

typedef struct OfxRectI { int x1, y1, x2, y2; } OfxRectI;
typedef struct OfxRectD { double x1, y1, x2, y2; } OfxRectD;
typedef struct OfxRangeD { double min, max; } OfxRangeD;

// What the host hands a plug-in: its own property set and the suite fetcher.
typedef struct OfxHost {
  OfxPropertySetHandle host;
  const void* (*fetchSuite)(OfxPropertySetHandle host, const char* suiteName, int suiteVersion);
} OfxHost;

typedef OfxStatus(OfxPluginEntryPoint)(const char* action, const void* handle, OfxPropertySetHandle inArgs,
                                       OfxPropertySetHandle outArgs);

// One plug-in of a binary, as OfxGetPlugin returns it.
typedef struct OfxPlugin {
  const char* pluginApi;
  int apiVersion;
  const char* pluginIdentifier;
  unsigned int pluginVersionMajor;
  unsigned int pluginVersionMinor;
  void (*setHost)(OfxHost* host);
  OfxPluginEntryPoint* mainEntry;
} OfxPlugin;

// status codes
#define kOfxStatOK 0
#define kOfxStatFailed 1
#define kOfxStatErrFatal 2
#define kOfxStatErrUnknown 3
#define kOfxStatErrMissingHostFeature 4
#define kOfxStatErrUnsupported 5
#define kOfxStatErrExists 6
#define kOfxStatErrFormat 7
#define kOfxStatErrMemory 8
#define kOfxStatErrBadHandle 9
#define kOfxStatErrBadIndex 10
#define kOfxStatErrValue 11
#define kOfxStatReplyYes 12
#define kOfxStatReplyNo 13
#define kOfxStatReplyDefault 14
#define kOfxStatErrImageFormat 1000

// generic actions
#define kOfxActionLoad "OfxActionLoad"
#define kOfxActionDescribe "OfxActionDescribe"
#define kOfxActionUnload "OfxActionUnload"
#define kOfxActionPurgeCaches "OfxActionPurgeCaches"
#define kOfxActionSyncPrivateData "OfxActionSyncPrivateData"
#define kOfxActionCreateInstance "OfxActionCreateInstance"
#define kOfxActionDestroyInstance "OfxActionDestroyInstance"
#define kOfxActionInstanceChanged "OfxActionInstanceChanged"
#define kOfxActionBeginInstanceChanged "OfxActionBeginInstanceChanged"
#define kOfxActionEndInstanceChanged "OfxActionEndInstanceChanged"

// generic properties
#define kOfxPropTime "OfxPropTime"
#define kOfxPropName "OfxPropName"
#define kOfxPropLabel "OfxPropLabel"
#define kOfxPropShortLabel "OfxPropShortLabel"
#define kOfxPropLongLabel "OfxPropLongLabel"
#define kOfxPropVersion "OfxPropVersion"
#define kOfxPropVersionLabel "OfxPropVersionLabel"
#define kOfxPropPluginDescription "OfxPropPluginDescription"
#define kOfxPropInstanceData "OfxPropInstanceData"
#define kOfxPropType "OfxPropType"

// bit depths
#define kOfxBitDepthNone "OfxBitDepthNone"
#define kOfxBitDepthByte "OfxBitDepthByte"
#define kOfxBitDepthShort "OfxBitDepthShort"
#define kOfxBitDepthHalf "OfxBitDepthHalf"
#define kOfxBitDepthFloat "OfxBitDepthFloat"

// ---- property suite ---------------------------------------------------------------------
#define kOfxPropertySuite "OfxPropertySuite"

typedef struct OfxPropertySuiteV1 {
  OfxStatus (*propSetPointer)(OfxPropertySetHandle p, const char* name, int index, void* value);
  OfxStatus (*propSetString)(OfxPropertySetHandle p, const char* name, int index, const char* value);
  OfxStatus (*propSetDouble)(OfxPropertySetHandle p, const char* name, int index, double value);
  OfxStatus (*propSetInt)(OfxPropertySetHandle p, const char* name, int index, int value);
  OfxStatus (*propSetPointerN)(OfxPropertySetHandle p, const char* name, int count, void* const* value);
  OfxStatus (*propSetStringN)(OfxPropertySetHandle p, const char* name, int count, const char* const* value);
  OfxStatus (*propSetDoubleN)(OfxPropertySetHandle p, const char* name, int count, const double* value);
  OfxStatus (*propSetIntN)(OfxPropertySetHandle p, const char* name, int count, const int* value);
  OfxStatus (*propGetPointer)(OfxPropertySetHandle p, const char* name, int index, void** value);
  OfxStatus (*propGetString)(OfxPropertySetHandle p, const char* name, int index, char** value);
  OfxStatus (*propGetDouble)(OfxPropertySetHandle p, const char* name, int index, double* value);
  OfxStatus (*propGetInt)(OfxPropertySetHandle p, const char* name, int index, int* value);
  OfxStatus (*propGetPointerN)(OfxPropertySetHandle p, const char* name, int count, void** value);
  OfxStatus (*propGetStringN)(OfxPropertySetHandle p, const char* name, int count, char** value);
  OfxStatus (*propGetDoubleN)(OfxPropertySetHandle p, const char* name, int count, double* value);
  OfxStatus (*propGetIntN)(OfxPropertySetHandle p, const char* name, int count, int* value);
  OfxStatus (*propReset)(OfxPropertySetHandle p, const char* name);
  OfxStatus (*propGetDimension)(OfxPropertySetHandle p, const char* name, int* count);
} OfxPropertySuiteV1;

// ---- image effect API -------------------------------------------------------------------
#define kOfxImageEffectPluginApi "OfxImageEffectPluginAPI"
#define kOfxImageEffectPluginApiVersion 1
#define kOfxImageEffectSuite "OfxImageEffectSuite"

// contexts
#define kOfxImageEffectContextGenerator "OfxImageEffectContextGenerator"
#define kOfxImageEffectContextFilter "OfxImageEffectContextFilter"
#define kOfxImageEffectContextGeneral "OfxImageEffectContextGeneral"

// components
#define kOfxImageComponentNone "OfxImageComponentNone"
#define kOfxImageComponentRGBA "OfxImageComponentRGBA"
#define kOfxImageComponentRGB "OfxImageComponentRGB"
#define kOfxImageComponentAlpha "OfxImageComponentAlpha"

// image effect actions
#define kOfxImageEffectActionGetRegionOfDefinition "OfxImageEffectActionGetRegionOfDefinition"
#define kOfxImageEffectActionGetRegionsOfInterest "OfxImageEffectActionGetRegionsOfInterest"
#define kOfxImageEffectActionGetTimeDomain "OfxImageEffectActionGetTimeDomain"
#define kOfxImageEffectActionGetFramesNeeded "OfxImageEffectActionGetFramesNeeded"
#define kOfxImageEffectActionGetClipPreferences "OfxImageEffectActionGetClipPreferences"
#define kOfxImageEffectActionIsIdentity "OfxImageEffectActionIsIdentity"
#define kOfxImageEffectActionRender "OfxImageEffectActionRender"
#define kOfxImageEffectActionBeginSequenceRender "OfxImageEffectActionBeginSequenceRender"
#define kOfxImageEffectActionEndSequenceRender "OfxImageEffectActionEndSequenceRender"
#define kOfxImageEffectActionDescribeInContext "OfxImageEffectActionDescribeInContext"

// effect descriptor and instance properties
#define kOfxImageEffectPropSupportedContexts "OfxImageEffectPropSupportedContexts"
#define kOfxImageEffectPropSupportedPixelDepths "OfxImageEffectPropSupportedPixelDepths"
#define kOfxImageEffectPropSupportedComponents "OfxImageEffectPropSupportedComponents"
#define kOfxImageEffectPluginPropGrouping "OfxImageEffectPluginPropGrouping"
#define kOfxImageEffectPluginPropSingleInstance "OfxImageEffectPluginPropSingleInstance"
#define kOfxImageEffectPluginRenderThreadSafety "OfxImageEffectPluginRenderThreadSafety"
#define kOfxImageEffectRenderFullySafe "OfxImageEffectRenderFullySafe"
#define kOfxImageEffectPluginPropHostFrameThreading "OfxImageEffectPluginPropHostFrameThreading"
#define kOfxImageEffectPropSupportsMultipleClipDepths "OfxImageEffectPropMultipleClipDepths"
#define kOfxImageEffectPropSupportsMultipleClipPARs "OfxImageEffectPropSupportsMultipleClipPARs"
#define kOfxImageEffectPropSupportsMultiResolution "OfxImageEffectPropSupportsMultiResolution"
#define kOfxImageEffectPropSupportsTiles "OfxImageEffectPropSupportsTiles"
#define kOfxImageEffectPropTemporalClipAccess "OfxImageEffectPropTemporalClipAccess"
#define kOfxImageEffectPropContext "OfxImageEffectPropContext"
#define kOfxImageEffectPropFrameRate "OfxImageEffectPropFrameRate"
#define kOfxImageEffectPropProjectSize "OfxImageEffectPropProjectSize"
#define kOfxImageEffectPropProjectOffset "OfxImageEffectPropProjectOffset"
#define kOfxImageEffectPropProjectPixelAspectRatio "OfxImageEffectPropPixelAspectRatio"
#define kOfxImageEffectPropRenderScale "OfxImageEffectPropRenderScale"
#define kOfxImageEffectPropRenderWindow "OfxImageEffectPropRenderWindow"
#define kOfxImageEffectPropRegionOfDefinition "OfxImageEffectPropRegionOfDefinition"
#define kOfxImageEffectPropRegionOfInterest "OfxImageEffectPropRegionOfInterest"
#define kOfxImageEffectPropPixelDepth "OfxImageEffectPropPixelDepth"
#define kOfxImageEffectPropComponents "OfxImageEffectPropComponents"
#define kOfxImageEffectPropPreMultiplication "OfxImageEffectPropPreMultiplication"
#define kOfxImageEffectFrameVarying "OfxImageEffectFrameVarying"
#define kOfxImageOpaque "OfxImageOpaque"

// clip properties
#define kOfxImageClipPropOptional "OfxImageClipPropOptional"
#define kOfxImageClipPropIsMask "OfxImageClipPropIsMask"
#define kOfxImageClipPropConnected "OfxImageClipPropConnected"

// image properties
#define kOfxImagePropData "OfxImagePropData"
#define kOfxImagePropBounds "OfxImagePropBounds"
#define kOfxImagePropRowBytes "OfxImagePropRowBytes"
#define kOfxImagePropPixelAspectRatio "OfxImagePropPixelAspectRatio"

// per-clip names of the getRegionsOfInterest and getClipPreferences out-arguments (+ clip name)
#define kGanfxRoIPrefix "OfxImageClipPropRoI_"

// standard clip names
#define kOfxImageEffectOutputClipName "Output"
#define kOfxImageEffectSimpleSourceClipName "Source"

typedef struct OfxImageEffectSuiteV1 {
  OfxStatus (*getPropertySet)(OfxImageEffectHandle effect, OfxPropertySetHandle* props);
  OfxStatus (*getParamSet)(OfxImageEffectHandle effect, OfxParamSetHandle* params);
  OfxStatus (*clipDefine)(OfxImageEffectHandle effect, const char* name, OfxPropertySetHandle* props);
  OfxStatus (*clipGetHandle)(OfxImageEffectHandle effect, const char* name, OfxImageClipHandle* clip,
                             OfxPropertySetHandle* props);
  OfxStatus (*clipGetPropertySet)(OfxImageClipHandle clip, OfxPropertySetHandle* props);
  OfxStatus (*clipGetImage)(OfxImageClipHandle clip, OfxTime time, const OfxRectD* region,
                            OfxPropertySetHandle* image);
  OfxStatus (*clipReleaseImage)(OfxPropertySetHandle image);
  OfxStatus (*clipGetRegionOfDefinition)(OfxImageClipHandle clip, OfxTime time, OfxRectD* bounds);
  int (*abort)(OfxImageEffectHandle effect);
  OfxStatus (*imageMemoryAlloc)(OfxImageEffectHandle effect, size_t bytes, OfxImageMemoryHandle* memory);
  OfxStatus (*imageMemoryFree)(OfxImageMemoryHandle memory);
  OfxStatus (*imageMemoryLock)(OfxImageMemoryHandle memory, void** pointer);
  OfxStatus (*imageMemoryUnlock)(OfxImageMemoryHandle memory);
} OfxImageEffectSuiteV1;

// ---- parameter suite --------------------------------------------------------------------
#define kOfxParameterSuite "OfxParameterSuite"

#define kOfxParamTypeInteger "OfxParamTypeInteger"
#define kOfxParamTypeDouble "OfxParamTypeDouble"
#define kOfxParamTypeBoolean "OfxParamTypeBoolean"
#define kOfxParamTypeChoice "OfxParamTypeChoice"
#define kOfxParamTypeRGB "OfxParamTypeRGB"
#define kOfxParamTypeString "OfxParamTypeString"

#define kOfxParamPropDefault "OfxParamPropDefault"
#define kOfxParamPropMin "OfxParamPropMin"
#define kOfxParamPropMax "OfxParamPropMax"
#define kOfxParamPropDisplayMin "OfxParamPropDisplayMin"
#define kOfxParamPropDisplayMax "OfxParamPropDisplayMax"
#define kOfxParamPropHint "OfxParamPropHint"
#define kOfxParamPropScriptName "OfxParamPropScriptName"
#define kOfxParamPropAnimates "OfxParamPropAnimates"
#define kOfxParamPropChoiceOption "OfxParamPropChoiceOption"
#define kOfxParamPropStringMode "OfxParamPropStringMode"
#define kOfxParamStringIsSingleLine "OfxParamStringIsSingleLine"
#define kOfxParamStringIsFilePath "OfxParamStringIsFilePath"
#define kOfxParamPropDigits "OfxParamPropDigits"
#define kOfxParamPropIncrement "OfxParamPropIncrement"

// paramGetValue and friends are variadic: the pointers to fill follow the handle (and time),
// one per dimension of the parameter (int* for integer/boolean/choice, double* for double/RGB,
// char** for strings).
typedef struct OfxParameterSuiteV1 {
  OfxStatus (*paramDefine)(OfxParamSetHandle params, const char* type, const char* name,
                           OfxPropertySetHandle* props);
  OfxStatus (*paramGetHandle)(OfxParamSetHandle params, const char* name, OfxParamHandle* param,
                              OfxPropertySetHandle* props);
  OfxStatus (*paramSetGetPropertySet)(OfxParamSetHandle params, OfxPropertySetHandle* props);
  OfxStatus (*paramGetPropertySet)(OfxParamHandle param, OfxPropertySetHandle* props);
  OfxStatus (*paramGetValue)(OfxParamHandle param, ...);
  OfxStatus (*paramGetValueAtTime)(OfxParamHandle param, OfxTime time, ...);
  OfxStatus (*paramGetDerivative)(OfxParamHandle param, OfxTime time, ...);
  OfxStatus (*paramGetIntegral)(OfxParamHandle param, OfxTime time1, OfxTime time2, ...);
  OfxStatus (*paramSetValue)(OfxParamHandle param, ...);
  OfxStatus (*paramSetValueAtTime)(OfxParamHandle param, OfxTime time, ...);
  OfxStatus (*paramGetNumKeys)(OfxParamHandle param, unsigned int* count);
  OfxStatus (*paramGetKeyTime)(OfxParamHandle param, unsigned int nth, OfxTime* time);
  OfxStatus (*paramGetKeyIndex)(OfxParamHandle param, OfxTime time, int direction, int* index);
  OfxStatus (*paramDeleteKey)(OfxParamHandle param, OfxTime time);
  OfxStatus (*paramDeleteAllKeys)(OfxParamHandle param);
  OfxStatus (*paramCopy)(OfxParamHandle to, OfxParamHandle from, OfxTime offset, const OfxRangeD* range);
  OfxStatus (*paramEditBegin)(OfxParamSetHandle params, const char* name);
  OfxStatus (*paramEditEnd)(OfxParamSetHandle params);
} OfxParameterSuiteV1;

// ---- message suite ----------------------------------------------------------------------
#define kOfxMessageSuite "OfxMessageSuite"
#define kOfxMessageError "OfxMessageError"
#define kOfxMessageWarning "OfxMessageWarning"
#define kOfxMessageMessage "OfxMessageMessage"

// Version 2 starts with version 1's one entry, so a V2 pointer serves as a V1 pointer too.
typedef struct OfxMessageSuiteV2 {
  OfxStatus (*message)(void* handle, const char* type, const char* id, const char* format, ...);
  OfxStatus (*setPersistentMessage)(void* handle, const char* type, const char* id, const char* format, ...);
  OfxStatus (*clearPersistentMessage)(void* handle);
} OfxMessageSuiteV2;

typedef struct OfxMessageSuiteV1 {
  OfxStatus (*message)(void* handle, const char* type, const char* id, const char* format, ...);
} OfxMessageSuiteV1;

#ifdef __cplusplus
}
#endif
