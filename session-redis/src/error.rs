//! Mapping of `redis` client errors onto [`StoreError`].

use redis::RedisError;
use session_core::StoreError;

/// A client error as a store error: timeouts stay [`StoreError::Timeout`],
/// everything else is [`StoreError::Backend`] with the client error as its
/// cause.
pub(crate) fn from_redis(e: RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout
    } else {
        StoreError::backend(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ErrorKind;

    #[test]
    fn io_errors_keep_their_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = from_redis(RedisError::from(io));
        match e {
            StoreError::Backend(cause) => assert!(cause.downcast_ref::<RedisError>().is_some()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn timeouts_are_typed() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert!(matches!(
            from_redis(RedisError::from(io)),
            StoreError::Timeout
        ));
        let client = RedisError::from((ErrorKind::Client, "not a timeout"));
        assert!(matches!(from_redis(client), StoreError::Backend(_)));
    }
}
