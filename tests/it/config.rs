//! Loading the configuration: the precedence of its sources and secrets read from files.

// figment::Jail's closure returns figment's large error type.
#![allow(clippy::result_large_err)]

use secrecy::ExposeSecret;
use vibe::config::{ConfigSources, flags_table, load};

#[test]
fn flags_override_env_which_overrides_the_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "vibe.toml",
            r#"
                [listen]
                gateway = "127.0.0.1:1"
                grpc = "127.0.0.1:2"
                metrics = "127.0.0.1:3"
            "#,
        )?;
        jail.set_env("VIBE_LISTEN__GRPC", "127.0.0.1:20");
        jail.set_env("VIBE_LISTEN__METRICS", "127.0.0.1:30");
        let flags = flags_table(&[(&["listen", "metrics"], Some("127.0.0.1:300"))]);
        let config = load(&ConfigSources {
            file: Some("vibe.toml".into()),
            flags,
        })
        .map_err(|err| err.to_string())?;
        assert_eq!(config.listen.gateway.port(), 1, "from the file");
        assert_eq!(config.listen.grpc.port(), 20, "env beats the file");
        assert_eq!(config.listen.metrics.port(), 300, "a flag beats env");
        Ok(())
    });
}

#[test]
fn a_secret_file_is_read_and_trimmed() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("redis-url", "redis://:pw@127.0.0.1:6390\n")?;
        jail.create_file("vibe.toml", "[redis]\nurl = { file = \"redis-url\" }\n")?;
        let config = load(&ConfigSources {
            file: Some("vibe.toml".into()),
            flags: None,
        })
        .map_err(|err| err.to_string())?;
        let redis = config.redis.expect("redis section");
        assert_eq!(
            redis.url.value().expose_secret(),
            "redis://:pw@127.0.0.1:6390"
        );
        assert_eq!(format!("{:?}", redis.url), "<redacted>");
        Ok(())
    });
}

#[test]
fn a_missing_config_file_is_an_error() {
    let error = load(&ConfigSources {
        file: Some("/nonexistent/vibe.toml".into()),
        flags: None,
    })
    .unwrap_err();
    assert_eq!(error.key, "--config");
}
