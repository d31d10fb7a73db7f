// tests/resources/resources_secrets_test.cc: Secret and ServiceAccount validation, and KServe's credential
// builder (ServiceAccount -> Secrets -> download variables, the storage spec with its storage-config Secret).
#include "resources/secrets.h"

#include <gtest/gtest.h>

#include <map>

namespace inferd::resources {
namespace {

Json Secret(const std::string& name, const Json& data, const Json& annotations = Json::object()) {
  Json s = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}, {"namespace", "default"}}}};
  if (!annotations.empty()) s["metadata"]["annotations"] = annotations;
  Json encoded = Json::object();
  for (auto it = data.begin(); it != data.end(); ++it) encoded[it.key()] = Base64Encode(it.value().get<std::string>());
  s["data"] = encoded;
  return s;
}

Json ServiceAccount(const std::string& name, const std::vector<std::string>& secrets,
                    const Json& annotations = Json::object()) {
  Json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", name}, {"namespace", "default"}}}};
  if (!annotations.empty()) sa["metadata"]["annotations"] = annotations;
  Json list = Json::array();
  for (const auto& s : secrets) list.push_back({{"name", s}});
  sa["secrets"] = list;
  return sa;
}

Json Isvc(const std::string& uri, const std::string& sa = "", const Json& annotations = Json::object()) {
  Json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"},
               {"kind", "InferenceService"},
               {"metadata", {{"name", "m"}, {"namespace", "default"}}},
               {"spec", {{"predictor", {{"model", {{"modelFormat", {{"name", "sklearn"}}}}}}}}}};
  if (!uri.empty()) isvc["spec"]["predictor"]["model"]["storageUri"] = uri;
  if (!sa.empty()) isvc["spec"]["predictor"]["serviceAccountName"] = sa;
  if (!annotations.empty()) isvc["metadata"]["annotations"] = annotations;
  return isvc;
}

struct Objects {
  std::map<std::string, Json> secrets, accounts;
  CredentialLookup Lookup() {
    return {[this](const std::string& n) -> const Json* {
              auto it = secrets.find(n);
              return it == secrets.end() ? nullptr : &it->second;
            },
            [this](const std::string& n) -> const Json* {
              auto it = accounts.find(n);
              return it == accounts.end() ? nullptr : &it->second;
            }};
  }
};

// ---- base64, Secret, ServiceAccount --------------------------------------------------------------------
TEST(Base64, RoundTripsAndIsStrict) {
  const std::vector<std::string> inputs = {"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)};
  for (const std::string& s : inputs) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.ok()) << s;
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(*Base64Decode("aGVs\nbG8=\r\n"), "hello");  // line breaks are skipped, as Go's decoder does
  for (const char* bad : {"aGVsbG8", "aGVs bG8=", "aGVsbG8==", "a=bc", "====", "aGVs\tbG8=", "aGVsbG8-"}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << bad;
  }
}

TEST(SecretValidation, AcceptsKubernetesSecretsAndNormalizesStringData) {
  Json s = Secret("s3creds", {{"AWS_ACCESS_KEY_ID", "AKID"}});
  s["stringData"] = {{"AWS_SECRET_ACCESS_KEY", "secret/with+chars"}, {"AWS_ACCESS_KEY_ID", "OVERRIDE"}};
  s["type"] = "Opaque";
  ASSERT_TRUE(ValidateSecret(s).ok()) << ValidateSecret(s).ToString();
  Json n = NormalizeSecret(s);
  EXPECT_FALSE(n.contains("stringData"));
  EXPECT_EQ(*SecretValue(n, "AWS_SECRET_ACCESS_KEY"), "secret/with+chars");
  EXPECT_EQ(*SecretValue(n, "AWS_ACCESS_KEY_ID"), "OVERRIDE");  // stringData wins, as in Kubernetes
  EXPECT_EQ(SecretValue(n, "absent").status().code(), StatusCode::kNotFound);
  Json bare = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "a.b-c"}}}};
  ASSERT_TRUE(ValidateSecret(bare).ok());
  EXPECT_EQ(NormalizeSecret(bare)["type"], "Opaque");
}

TEST(SecretValidation, RefusesBadSecretsWithoutEchoingValues) {
  const std::string hidden = "TOP-SECRET-VALUE";
  struct Case {
    Json secret;
    std::string want;
  };
  Json base = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}}}};
  std::vector<Case> cases;
  Json c = base;
  c["data"] = {{"k", hidden}};  // not base64 (has '-')
  cases.push_back({c, "data[k]: illegal base64"});
  c = base;
  c["data"] = {{"bad/key", Base64Encode(hidden)}};
  cases.push_back({c, "data[bad/key]: a valid config key"});
  c = base;
  c["stringData"] = {{"k", 5}};
  cases.push_back({c, "stringData[k]: must be a string"});
  c = base;
  c["data"] = {{"k", Base64Encode(std::string((1 << 20) + 1, 'x'))}};
  cases.push_back({c, "data: Too long"});
  c = base;
  c["spec"] = Json::object();
  cases.push_back({c, "spec: unknown field"});
  c = base;
  c["metadata"]["name"] = "Not_Valid";
  cases.push_back({c, "metadata.name"});
  c = base;
  c["immutable"] = "yes";
  cases.push_back({c, "immutable"});
  c = base;
  c["kind"] = "ConfigMap";
  cases.push_back({c, "kind: must be Secret"});
  for (const auto& [secret, want] : cases) {
    Status st = ValidateSecret(secret);
    ASSERT_FALSE(st.ok()) << secret.dump();
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find(hidden), std::string::npos) << st.message();
  }
}

TEST(ServiceAccountValidation, SecretsAreAListOfNames) {
  EXPECT_TRUE(ValidateServiceAccount(ServiceAccount("sa", {"a", "b"})).ok());
  Json sa = ServiceAccount("sa", {});
  sa["secrets"] = Json::array({{{"namespace", "x"}}});
  EXPECT_NE(ValidateServiceAccount(sa).message().find("secrets[0].name: required"), std::string::npos);
  sa["secrets"] = "a";
  EXPECT_NE(ValidateServiceAccount(sa).message().find("secrets: must be a list"), std::string::npos);
  sa = ServiceAccount("sa", {});
  sa["automountServiceAccountToken"] = 1;
  EXPECT_FALSE(ValidateServiceAccount(sa).ok());
}

// ---- the credential builder ----------------------------------------------------------------------------
TEST(StorageCredentials, WithoutAnyServiceAccountServeEnvironmentApplies) {
  Objects o;
  for (const char* uri : {"s3://b/m", "gs://b/m", "https://h/m.tgz", "/local/m"}) {
    auto c = ResolveStorageCredentials(Isvc(uri), uri, o.Lookup());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_TRUE(c->from_serve_env) << uri;
    EXPECT_EQ(c->uri, uri);
  }
  // Credentials only concern object stores: a ServiceAccount named for an http(s) model is not needed.
  auto http = ResolveStorageCredentials(Isvc("https://h/m.tgz", "absent"), "https://h/m.tgz", o.Lookup());
  ASSERT_TRUE(http.ok());
  EXPECT_TRUE(http->from_serve_env);
}

TEST(StorageCredentials, ServiceAccountSecretsConfigureS3AsKServeDoes) {
  Objects o;
  o.secrets["s3creds"] = Secret("s3creds", {{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "SECRET"}},
                                {{"serving.kserve.io/s3-endpoint", "minio.local:9000"},
                                 {"serving.kserve.io/s3-usehttps", "0"},
                                 {"serving.kserve.io/s3-region", "eu-west-1"},
                                 {"serving.kserve.io/s3-verifyssl", "0"},
                                 {"serving.kserve.io/s3-useanoncredential", "false"},
                                 {"serving.kserve.io/s3-cabundle", "/etc/ssl/minio.pem"}});
  o.secrets["other"] = Secret("other", {{"token", "x"}});  // not a storage secret: skipped, as in KServe
  o.accounts["loader"] = ServiceAccount("loader", {"other", "s3creds"});
  auto c = ResolveStorageCredentials(Isvc("s3://b/m", "loader"), "s3://b/m", o.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->from_serve_env);
  const std::map<std::string, std::string> want = {{"AWS_ACCESS_KEY_ID", "AKID"},
                                                   {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                                   {"S3_ENDPOINT", "minio.local:9000"},
                                                   {"S3_USE_HTTPS", "0"},
                                                   {"AWS_ENDPOINT_URL", "http://minio.local:9000"},
                                                   {"AWS_DEFAULT_REGION", "eu-west-1"},
                                                   {"S3_VERIFY_SSL", "0"},
                                                   {"awsAnonymousCredential", "false"},
                                                   {"AWS_CA_BUNDLE", "/etc/ssl/minio.pem"}};
  EXPECT_EQ(c->env, want);
  EXPECT_EQ(c->secrets, (std::vector<std::string>{"other", "s3creds"}));
  EXPECT_EQ(c->identity.find("SECRET"), std::string::npos);
  EXPECT_NE(c->identity.find("default/sa:loader"), std::string::npos);
  EXPECT_TRUE(c->notes.empty());
}

TEST(StorageCredentials, EndpointUrlsDataKeysAndLaterSecretsWin) {
  Objects o;
  // Settings as data keys (KServe reads the variable's name there when no annotation gives it).
  o.secrets["a"] = Secret("a", {{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "SA"},
                                {"S3_ENDPOINT", "https://s3.example:8443"}, {"AWS_DEFAULT_REGION", "r1"}});
  o.secrets["b"] = Secret("b", {{"AWS_ACCESS_KEY_ID", "B"}, {"AWS_SECRET_ACCESS_KEY", "SB"}},
                          {{"serving.kserve.io/s3-usevirtualbucket", "true"}});
  o.accounts["default"] = ServiceAccount("default", {"a", "b"}, {{"eks.amazonaws.com/role-arn", "arn:x"}});
  auto c = ResolveStorageCredentials(Isvc("s3://b/m"), "s3://b/m", o.Lookup());  // the "default" account
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->env.at("AWS_ACCESS_KEY_ID"), "B");
  EXPECT_EQ(c->env.at("S3_ENDPOINT"), "s3.example:8443");
  EXPECT_EQ(c->env.at("S3_USE_HTTPS"), "1");
  EXPECT_EQ(c->env.at("AWS_ENDPOINT_URL"), "https://s3.example:8443");
  EXPECT_EQ(c->env.at("AWS_DEFAULT_REGION"), "r1");
  ASSERT_EQ(c->notes.size(), 2u);
  EXPECT_NE(c->notes[0].find("role-arn"), std::string::npos);
  EXPECT_NE(c->notes[1].find("path-style"), std::string::npos);
}

TEST(StorageCredentials, GcsServiceAccountKey) {
  Objects o;
  o.secrets["gcs"] = Secret("gcs", {{"gcloud-application-credentials.json", R"({"type":"service_account"})"}});
  o.accounts["sa"] = ServiceAccount("sa", {"gcs"});
  auto c = ResolveStorageCredentials(Isvc("gs://b/m", "sa"), "gs://b/m", o.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->env.at("GOOGLE_SERVICE_ACCOUNT_KEY_JSON"), R"({"type":"service_account"})");
}

TEST(StorageCredentials, MissingObjectsAreNamed) {
  Objects o;
  auto sa = ResolveStorageCredentials(Isvc("s3://b/m", "loader"), "s3://b/m", o.Lookup());
  EXPECT_EQ(sa.status().code(), StatusCode::kNotFound);
  EXPECT_NE(sa.status().message().find("serviceaccount \"loader\""), std::string::npos) << sa.status().message();
  o.accounts["loader"] = ServiceAccount("loader", {"s3creds"});
  auto secret = ResolveStorageCredentials(Isvc("s3://b/m", "loader"), "s3://b/m", o.Lookup());
  EXPECT_EQ(secret.status().code(), StatusCode::kNotFound);
  EXPECT_NE(secret.status().message().find("secret \"s3creds\""), std::string::npos) << secret.status().message();
  EXPECT_NE(secret.status().message().find("loader"), std::string::npos);
  // The annotation names a Secret directly (KServe's storageSecretNameAnnotation), ahead of the account.
  auto ann = ResolveStorageCredentials(Isvc("s3://b/m", "loader", {{"serving.kserve.io/storageSecretName", "direct"}}),
                                       "s3://b/m", o.Lookup());
  EXPECT_EQ(ann.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ann.status().message().find("secret \"direct\""), std::string::npos) << ann.status().message();
  o.secrets["direct"] = Secret("direct", {{"AWS_ACCESS_KEY_ID", "D"}, {"AWS_SECRET_ACCESS_KEY", "SD"}});
  ann = ResolveStorageCredentials(Isvc("s3://b/m", "loader", {{"serving.kserve.io/storageSecretName", "direct"}}),
                                  "s3://b/m", o.Lookup());
  ASSERT_TRUE(ann.ok()) << ann.status().ToString();
  EXPECT_EQ(ann->env.at("AWS_ACCESS_KEY_ID"), "D");
  // An S3 secret without the key id cannot be used.
  o.secrets["half"] = Secret("half", {{"AWS_SECRET_ACCESS_KEY", "S"}});
  o.accounts["h"] = ServiceAccount("h", {"half"});
  auto half = ResolveStorageCredentials(Isvc("s3://b/m", "h"), "s3://b/m", o.Lookup());
  EXPECT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos) << half.status().message();
}

Json WithStorage(Json isvc, const Json& storage) {
  isvc["spec"]["predictor"]["model"]["storage"] = storage;
  return isvc;
}

TEST(StorageSpec, StorageConfigSecretAndParametersMakeTheUriAndVariables) {
  Objects o;
  o.secrets["storage-config"] =
      Secret("storage-config",
             {{"localMinIO", R"({"type":"s3","access_key_id":"minio","secret_access_key":"minio123",)"
                             R"("endpoint_url":"http://minio:9000","bucket":"mlpipeline","region":"us-south"})"},
              {"default", R"({"type":"s3","bucket":"fallback","access_key_id":"d","secret_access_key":"ds"})"}});
  Json isvc = WithStorage(Isvc(""), {{"key", "localMinIO"}, {"path", "/sklearn/model.joblib"},
                                     {"parameters", {{"bucket", "override"}}}});
  auto c = ResolveStorageCredentials(isvc, "", o.Lookup());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->uri, "s3://override/sklearn/model.joblib");
  EXPECT_FALSE(c->from_serve_env);
  EXPECT_EQ(c->env.at("AWS_ACCESS_KEY_ID"), "minio");
  EXPECT_EQ(c->env.at("AWS_SECRET_ACCESS_KEY"), "minio123");
  EXPECT_EQ(c->env.at("AWS_ENDPOINT_URL"), "http://minio:9000");
  EXPECT_EQ(c->env.at("AWS_DEFAULT_REGION"), "us-south");
  EXPECT_EQ(c->identity.find("minio123"), std::string::npos);
  // No key: the "default" entry; a storageUri is used as is.
  auto d = ResolveStorageCredentials(WithStorage(Isvc("s3://given/x"), {{"path", "ignored"}}), "s3://given/x",
                                     o.Lookup());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->uri, "s3://given/x");
  EXPECT_EQ(d->env.at("AWS_ACCESS_KEY_ID"), "d");
  EXPECT_NE(c->identity, d->identity);
  // The annotation names another storage secret.
  auto ann = ResolveStorageCredentials(
      WithStorage(Isvc("", "", {{"serving.kserve.io/storageSecretName", "mine"}}), {{"key", "k"}, {"path", "p"}}), "",
      o.Lookup());
  EXPECT_EQ(ann.status().code(), StatusCode::kNotFound);
  EXPECT_NE(ann.status().message().find("\"mine\""), std::string::npos) << ann.status().message();
}

TEST(StorageSpec, ErrorsAsKServeReportsThem) {
  Objects o;
  o.secrets["storage-config"] = Secret("storage-config", {{"bad", "not json"}, {"num", R"({"type":5})"},
                                                          {"hdfs", R"({"type":"hdfs"})"}, {"nobucket", R"({"type":"s3"})"}});
  const std::vector<std::pair<Json, std::string>> cases = {
      {{{"key", "absent"}, {"path", "p"}}, "specified storage key absent not found in storage secret storage-config"},
      {{{"key", "bad"}, {"path", "p"}}, "invalid json encountered in key bad"},
      {{{"key", "num"}, {"path", "p"}}, "invalid json encountered in key num"},
      {{{"key", "hdfs"}, {"path", "p"}}, "storage type \"hdfs\" is not supported by inferd"},
      {{{"key", "nobucket"}, {"path", "p"}}, "requires a bucket"},
      {{{"path", "p"}}, "unable to determine storage type"},
      {{{"key", "nobucket"}}, ".path: required"},
  };
  for (const auto& [storage, want] : cases) {
    auto c = ResolveStorageCredentials(WithStorage(Isvc(""), storage), "", o.Lookup());
    ASSERT_FALSE(c.ok()) << storage.dump();
    EXPECT_NE(c.status().message().find(want), std::string::npos) << storage.dump() << " -> " << c.status().message();
  }
  // Without the storage-config secret, parameters alone may configure it (public bucket, anonymous).
  Objects none;
  auto p = ResolveStorageCredentials(
      WithStorage(Isvc(""), {{"path", "m"}, {"parameters", {{"type", "s3"}, {"bucket", "pub"}, {"anonymous", "true"}}}}),
      "", none.Lookup());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->uri, "s3://pub/m");
  EXPECT_EQ(p->env.at("awsAnonymousCredential"), "true");
}

TEST(StorageSpec, ApplyTimeValidationNamesTheField) {
  EXPECT_TRUE(ValidateStorageSpec(Isvc("s3://b/m")).ok());
  EXPECT_TRUE(ValidateStorageSpec(WithStorage(Isvc(""), {{"key", "k"}, {"path", "p"}})).ok());
  const std::vector<std::pair<Json, std::string>> cases = {
      {WithStorage(Isvc(""), "s3"), "spec.predictor.model.storage: must be an object"},
      {WithStorage(Isvc(""), {{"key", 1}, {"path", "p"}}), "spec.predictor.model.storage.key"},
      {WithStorage(Isvc(""), {{"path", "p"}, {"parameters", {{"type", 3}}}}), "spec.predictor.model.storage.parameters"},
      {WithStorage(Isvc(""), {{"path", "p"}, {"parameters", {{"type", "hdfs"}}}}),
       "spec.predictor.model.storage.parameters.type: storage type \"hdfs\" is not supported by inferd"},
      {WithStorage(Isvc(""), {{"path", "p"}, {"parameters", {{"type", "gcs"}}}}), "[gcs] is not supported"},
      {WithStorage(Isvc("gs://b/m"), {{"key", "k"}}), "spec.predictor.model.storageUri: with a storage spec"},
      {WithStorage(Isvc(""), {{"key", "k"}}), "spec.predictor.model.storage.path: required"},
      {WithStorage(Isvc(""), {{"path", "p"}, {"bucket", "b"}}), "spec.predictor.model.storage.bucket: unknown field"},
  };
  for (const auto& [isvc, want] : cases) {
    Status st = ValidateStorageSpec(isvc);
    ASSERT_FALSE(st.ok()) << isvc.dump();
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace inferd::resources
