//! Raw bindings generated from `wit/`, for what the friendlier modules do not cover.

/// The `platform` world: imports plus the `publisher` export.
pub mod platform {
    wit_bindgen::generate!({
        path: "../wit",
        world: "platform",
        pub_export_macro: true,
        export_macro_name: "__export_platform_world",
        default_bindings_module: "plugboard_sdk::wit::platform",
    });
}

/// The `ai-provider` world; its imports are the same modules as the platform world's.
pub mod ai {
    wit_bindgen::generate!({
        path: "../wit",
        world: "ai-provider",
        pub_export_macro: true,
        export_macro_name: "__export_ai_world",
        default_bindings_module: "plugboard_sdk::wit::ai",
        with: {
            "plugboard:plugin/types@0.1.0": crate::wit::platform::plugboard::plugin::types,
            "plugboard:plugin/http@0.1.0": crate::wit::platform::plugboard::plugin::http,
            "plugboard:plugin/media@0.1.0": crate::wit::platform::plugboard::plugin::media,
            "plugboard:plugin/storage@0.1.0": crate::wit::platform::plugboard::plugin::storage,
            "plugboard:plugin/secrets@0.1.0": crate::wit::platform::plugboard::plugin::secrets,
            "plugboard:plugin/log@0.1.0": crate::wit::platform::plugboard::plugin::log,
        },
    });
}
