use crate::wit::ai::exports::plugboard::plugin::provider::{
    Completion, CompletionRequest, ImageRequest, ProviderInfo, SpeechRequest,
};
use crate::wit::ai::plugboard::plugin::sink::CompletionSink;
use crate::*;

/// A platform plugin. Only `describe` and `publish` are required; every other operation
/// answers `unsupported` until the plugin overrides it.
pub trait Platform {
    fn describe() -> PlatformInfo;

    fn publish(post: Post) -> Result<PublishOutcome, PluginError>;

    /// Content checks without network calls. The default applies the limits `describe()`
    /// declares for the post's kind (text length, media count).
    fn validate(post: Post) -> Vec<Problem> {
        describe::check(&Self::describe(), &post)
    }

    fn authorize(_req: AuthorizeRequest) -> Result<Authorization, PluginError> {
        Err(unsupported("OAuth authorization"))
    }
    fn exchange_code(_req: CodeExchange) -> Result<Connection, PluginError> {
        Err(unsupported("OAuth code exchange"))
    }
    fn connect_with(_fields: Vec<(String, String)>) -> Result<Connection, PluginError> {
        Err(unsupported("connecting with credentials"))
    }
    fn refresh() -> Result<Credentials, PluginError> {
        Err(unsupported("token refresh"))
    }
    fn revoke() -> Result<(), PluginError> {
        Err(unsupported("token revocation"))
    }
    fn check_status(_handle: String) -> Result<PublishOutcome, PluginError> {
        Err(unsupported("status checks"))
    }
    fn reconcile(_post: Post) -> Result<ReconcileOutcome, PluginError> {
        Ok(ReconcileOutcome::Unknown(
            "this platform offers no way to look up an interrupted post".into(),
        ))
    }
    fn delete(_remote_id: String) -> Result<(), PluginError> {
        Err(unsupported("deleting posts"))
    }
    fn metrics(_remote_id: Option<String>) -> Result<Vec<Metric>, PluginError> {
        Err(unsupported("metrics"))
    }
    fn list_comments(
        _post_remote_id: Option<String>,
        _cursor: Option<String>,
    ) -> Result<CommentPage, PluginError> {
        Err(unsupported("listing comments"))
    }
    fn reply_comment(_comment_remote_id: String, _text: String) -> Result<String, PluginError> {
        Err(unsupported("replying to comments"))
    }
    fn handle_webhook(_req: WebhookRequest) -> Result<WebhookReply, PluginError> {
        Err(unsupported("webhooks"))
    }
}

/// An AI provider plugin. `describe` and `complete` are required.
pub trait AiProvider {
    fn describe() -> ProviderInfo;

    fn complete(req: CompletionRequest) -> Result<Completion, PluginError>;

    /// Streams through `sink`; the default completes in one go and delivers one delta.
    fn stream(req: CompletionRequest, sink: &CompletionSink) -> Result<Completion, PluginError> {
        let done = Self::complete(req)?;
        sink.delta(&done.text)
            .map_err(|_| PluginError::Transient("the client cancelled the stream".into()))?;
        Ok(done)
    }
    fn generate_image(_req: ImageRequest) -> Result<Vec<MediaRef>, PluginError> {
        Err(unsupported("image generation"))
    }
    fn speech(_req: SpeechRequest) -> Result<MediaRef, PluginError> {
        Err(unsupported("speech generation"))
    }
}

/// Exports a [`Platform`] implementation as the plugin's component and records its
/// manifest. `manifest` is TOML: `name`, `description`, `hosts` (URL patterns such as
/// `https://api.example.com` or `https://*.example.com:443`), `secrets` (app secret names),
/// `storage-quota` (bytes).
#[macro_export]
macro_rules! export_platform {
    ($ty:ty, manifest = $manifest:literal) => {
        $crate::__manifest_section!("platform", $manifest);

        struct __PlugboardPlatform;

        impl $crate::wit::platform::exports::plugboard::plugin::publisher::Guest
            for __PlugboardPlatform
        {
            fn describe() -> $crate::PlatformInfo {
                <$ty as $crate::Platform>::describe()
            }
            fn authorize(
                req: $crate::AuthorizeRequest,
            ) -> Result<$crate::Authorization, $crate::PluginError> {
                <$ty as $crate::Platform>::authorize(req)
            }
            fn exchange_code(
                req: $crate::CodeExchange,
            ) -> Result<$crate::Connection, $crate::PluginError> {
                <$ty as $crate::Platform>::exchange_code(req)
            }
            fn connect_with(
                fields: Vec<(String, String)>,
            ) -> Result<$crate::Connection, $crate::PluginError> {
                <$ty as $crate::Platform>::connect_with(fields)
            }
            fn refresh() -> Result<$crate::Credentials, $crate::PluginError> {
                <$ty as $crate::Platform>::refresh()
            }
            fn revoke() -> Result<(), $crate::PluginError> {
                <$ty as $crate::Platform>::revoke()
            }
            fn validate(post: $crate::Post) -> Vec<$crate::Problem> {
                <$ty as $crate::Platform>::validate(post)
            }
            fn publish(post: $crate::Post) -> Result<$crate::PublishOutcome, $crate::PluginError> {
                <$ty as $crate::Platform>::publish(post)
            }
            fn check_status(
                handle: String,
            ) -> Result<$crate::PublishOutcome, $crate::PluginError> {
                <$ty as $crate::Platform>::check_status(handle)
            }
            fn reconcile(
                post: $crate::Post,
            ) -> Result<$crate::ReconcileOutcome, $crate::PluginError> {
                <$ty as $crate::Platform>::reconcile(post)
            }
            fn delete(remote_id: String) -> Result<(), $crate::PluginError> {
                <$ty as $crate::Platform>::delete(remote_id)
            }
            fn metrics(
                remote_id: Option<String>,
            ) -> Result<Vec<$crate::Metric>, $crate::PluginError> {
                <$ty as $crate::Platform>::metrics(remote_id)
            }
            fn list_comments(
                post_remote_id: Option<String>,
                cursor: Option<String>,
            ) -> Result<$crate::CommentPage, $crate::PluginError> {
                <$ty as $crate::Platform>::list_comments(post_remote_id, cursor)
            }
            fn reply_comment(
                comment_remote_id: String,
                text: String,
            ) -> Result<String, $crate::PluginError> {
                <$ty as $crate::Platform>::reply_comment(comment_remote_id, text)
            }
            fn handle_webhook(
                req: $crate::WebhookRequest,
            ) -> Result<$crate::WebhookReply, $crate::PluginError> {
                <$ty as $crate::Platform>::handle_webhook(req)
            }
        }

        $crate::wit::platform::__export_platform_world!(
            __PlugboardPlatform with_types_in $crate::wit::platform
        );
    };
}

/// Exports an [`AiProvider`] implementation; `manifest` as for [`export_platform!`].
#[macro_export]
macro_rules! export_ai_provider {
    ($ty:ty, manifest = $manifest:literal) => {
        $crate::__manifest_section!("ai-provider", $manifest);

        struct __PlugboardProvider;

        impl $crate::wit::ai::exports::plugboard::plugin::provider::Guest for __PlugboardProvider {
            fn describe() -> $crate::wit::ai::exports::plugboard::plugin::provider::ProviderInfo {
                <$ty as $crate::AiProvider>::describe()
            }
            fn complete(
                req: $crate::wit::ai::exports::plugboard::plugin::provider::CompletionRequest,
            ) -> Result<
                $crate::wit::ai::exports::plugboard::plugin::provider::Completion,
                $crate::PluginError,
            > {
                <$ty as $crate::AiProvider>::complete(req)
            }
            fn stream(
                req: $crate::wit::ai::exports::plugboard::plugin::provider::CompletionRequest,
                sink: &$crate::wit::ai::plugboard::plugin::sink::CompletionSink,
            ) -> Result<
                $crate::wit::ai::exports::plugboard::plugin::provider::Completion,
                $crate::PluginError,
            > {
                <$ty as $crate::AiProvider>::stream(req, sink)
            }
            fn generate_image(
                req: $crate::wit::ai::exports::plugboard::plugin::provider::ImageRequest,
            ) -> Result<Vec<$crate::MediaRef>, $crate::PluginError> {
                <$ty as $crate::AiProvider>::generate_image(req)
            }
            fn speech(
                req: $crate::wit::ai::exports::plugboard::plugin::provider::SpeechRequest,
            ) -> Result<$crate::MediaRef, $crate::PluginError> {
                <$ty as $crate::AiProvider>::speech(req)
            }
        }

        $crate::wit::ai::__export_ai_world!(__PlugboardProvider with_types_in $crate::wit::ai);
    };
}
